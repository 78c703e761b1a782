// egc_train's command line: the flags as text (TrainFlags), their registration with CLI11, and
// their resolution into a checked TrainConfig before anything is loaded, planned or written.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/checkpoint_flags.h"
#include "cli/cli.h"
#include "planner/model_spec.h"
#include "planner/report.h"
#include "planner/schedule.h"
#include "runtime/backend_factory.h"
#include "runtime/session.h"
#include "runtime/trainer.h"

namespace egc {

struct TrainFlags {
  ModelFlags model;
  std::string plan = "sqrtn";
  std::string max_memory;
  std::string host_memory;  // --host-memory: the host arena's cap; empty: offloading off
  std::string objective = "time";
  std::string schedule = "summary";
  std::string report;
  bool dry_run = false;
  DeviceFlags device;
  std::string alloc = "arena";
  bool single_update = false;
  std::string steps;
  std::string epochs;
  std::string lr;
  std::string momentum = "0.9";
  std::string beta1 = "0.9";
  std::string beta2 = "0.999";
  std::string eps = "1e-8";
  std::string accumulate = "1";
  std::string seed = "0";
  std::string noise = "0.1";
  std::string samples = "100000";
  std::string eval_split = "0.1";
  std::string data;
  std::string save;
  std::string load;
  std::string export_batches;
  std::string log_level = "info";
  std::string log_every;
  std::string measure_steps = "2";
  std::string profile;
  CheckpointFlags checkpoint;
};

constexpr std::size_t kDefaultEpochs = 2;

// Every flag parsed and checked.
struct TrainConfig {
  ModelSpec model;
  PlanSpec plan;
  ScheduleDetail schedule = ScheduleDetail::summary;
  DeviceChoiceAndOptions device;
  TrainSettings settings;  // allocation mode, accumulation, seed, optimizer
  RunOptions run;          // single update, --max-memory
  double lr = 0;
  double momentum = 0;
  double noise = 0;
  std::size_t samples = 0;
  double eval_split = 0;
  std::size_t measure_steps = 0;
  std::optional<std::size_t> steps;
  std::optional<double> epochs;
  std::optional<std::size_t> log_every;
  CheckpointConfig checkpoint;
};

void add_train_flags(CLI::App& app, TrainFlags& flags);

// UsageError naming the flag for any value that is not accepted; checks that the output files
// can be written.
TrainConfig resolve_train_flags(const CLI::App& app, const TrainFlags& flags);

}  // namespace egc
