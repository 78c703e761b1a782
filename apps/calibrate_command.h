// egc_bench --calibrate: measures a device profile (runtime/calibration.h) on the chosen device
// and writes it as JSON for --profile.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/cli.h"

namespace egc {

struct CalibrateFlags {
  bool calibrate = false;
  std::string sizes;  // the GEMM grid's values; default by device
};
constexpr const char* kCalibrateOnlyFlags[] = {"--calibrate-sizes"};

void add_calibrate_flags(CLI::App& app, CalibrateFlags& flags);
// Prints a summary and writes the profile to `out` (egc_bench's --out, which names the output
// features in the other modes) atomically; returns the exit code.
int run_calibrate(const CLI::App& app, const CalibrateFlags& flags, const DeviceFlags& device, const std::string& out);

}  // namespace egc
