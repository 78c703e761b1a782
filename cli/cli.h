// Command-line pieces shared by every egc program (apps/ and bench/): the model flags, logging,
// and the wrapper that turns exceptions into one line on stderr and the documented exit codes.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "planner/model_spec.h"
#include "planner/schedule.h"
#include "runtime/backend_factory.h"

namespace egc {

// Flags are read as text and parsed by egc's own parsers, so every error message has one form:
// "<flag>: <what is wrong> (accepted: ...)".
struct ModelFlags {
  std::string layers = "8";
  std::string width = "64";
  std::string widths;  // W1,W2,... instead of --layers/--width
  std::string in = "1";
  std::string out;  // default 1, or the number of classes with --loss cross-entropy
  std::string activation = "relu";
  std::string batch = "128";
  std::string optimizer = "sgd";
  std::string block = "plain";
  std::string norm;  // residual blocks: default layernorm
  std::string expand;  // residual blocks: default 4
  std::string dropout = "0";
  std::string loss = "mse";
  std::string classes;
};

void add_model_flags(CLI::App& app, ModelFlags& flags);
// UsageError naming the flag for any value that is not accepted, or a flag that does not apply
// (--classes without --loss cross-entropy, --norm or --expand without --block residual).
ModelSpec resolve_model(const ModelFlags& flags);

// Where a program runs: --device, --tf32, and the simulated device's --sim-memory and
// --sim-granularity.
struct DeviceFlags {
  std::string device = "auto";
  bool tf32 = false;
  std::string sim_memory = "80GiB";
  std::string sim_granularity = "2MiB";
};
struct DeviceChoiceAndOptions {
  DeviceChoice device = DeviceChoice::automatic;
  BackendOptions options;
};
// Adds the flags to `group`; `devices` is the --device help ("auto, cpu, cuda, sim").
void add_device_flags(CLI::App& app, DeviceFlags& flags, const std::string& group, const std::string& devices);
// UsageError naming the flag for a bad value; --sim-* given without --device sim are refused.
DeviceChoiceAndOptions resolve_device(const CLI::App& app, const DeviceFlags& flags);

// Logs to stderr at `level` (trace, debug, info, warn, error, critical, off); UsageError
// naming --log-level otherwise.
void setup_logging(const std::string& level);

// Runs `body` after parsing; returns its exit code, 0 for --help, 2 for bad input (CLI11
// parse errors and UsageError), 1 for any other failure. Every error is one line on stderr.
int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace egc
