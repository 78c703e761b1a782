// egc_bench --calibrate: the measurement, a summary on stdout, the profile as JSON.
#include "apps/calibrate_command.h"

#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>

#include "planner/errors.h"
#include "planner/model_spec.h"
#include "planner/units.h"
#include "runtime/atomic_file.h"
#include "runtime/backend_factory.h"
#include "runtime/calibration.h"

namespace egc {
namespace {

// GFLOP/s of the largest sample of each transpose case, and every kernel's cost.
void print_summary(const DeviceProfile& profile) {
  std::printf("device profile: %s\n  GEMM (largest shape of each case), beyond %.1f us:\n", profile.name.c_str(),
              profile.gemm_fixed_us);
  for (const GemmSample& s : profile.gemm) {
    bool largest = true;
    for (const GemmSample& o : profile.gemm)
      if (o.shape.transpose_a == s.shape.transpose_a && o.shape.transpose_b == s.shape.transpose_b &&
          o.shape.m * o.shape.n * o.shape.k > s.shape.m * s.shape.n * s.shape.k)
        largest = false;
    if (!largest) continue;
    const double flops = 2.0 * static_cast<double>(s.shape.m * s.shape.n * s.shape.k);
    std::printf("    %s%s %zu x %zu x %zu: %.1f us, %.2f GFLOP/s\n", s.shape.transpose_a ? "T" : "N",
                s.shape.transpose_b ? "T" : "N", s.shape.m, s.shape.n, s.shape.k, s.microseconds,
                flops / s.microseconds / 1e3);
  }
  std::printf("  other kernels: us at each size (elements, parameters or bytes)\n");
  for (const auto& [key, cost] : profile.kernels) {
    std::printf("    %-28s", key.c_str());
    for (const KernelSample& sample : cost.samples) std::printf(" %.0f: %.2f", sample.units, sample.microseconds);
    std::printf("\n");
  }
}

}  // namespace

void add_calibrate_flags(CLI::App& app, CalibrateFlags& flags) {
  const char* group = "Calibrate (--calibrate)";
  app.add_flag("--calibrate", flags.calibrate,
               "Measure a device profile (GEMMs over a grid of shapes, every other kernel's fixed and per-element "
               "cost, copies) for --profile, instead of a sweep")
      ->group(group);
  app.add_option("--calibrate-sizes", flags.sizes,
                 "The GEMM grid's values of m, n and k (default 1,4,16,64,256,1024 on the CPU, "
                 "1,16,64,256,1024,4096,8192 on a GPU)")
      ->type_name("LIST")
      ->group(group);
}

int run_calibrate(const CLI::App& app, const CalibrateFlags& flags, const DeviceFlags& device_flags,
                  const std::string& out) {
  if (app.count("--out") == 0) throw UsageError("--calibrate: needs --out FILE (where the profile goes)");
  const DeviceChoiceAndOptions device = resolve_device(app, device_flags);
  CalibrationOptions options;
  if (!flags.sizes.empty()) options.gemm_sizes = parse_widths(flags.sizes, "--calibrate-sizes");
  check_writable(out, "--out");
  const std::unique_ptr<Backend> backend = make_backend(device.device, device.options);
  if (flags.sizes.empty() && backend->device() == DeviceKind::cuda) options.gemm_sizes = {1, 16, 64, 256, 1024, 4096, 8192};
  spdlog::info("calibrating {}", backend->description());
  DeviceProfile profile = calibrate(*backend, options, [](const std::string& what) { spdlog::info("  {}", what); });
  profile.source = "calibrated with egc_bench --calibrate";
  print_summary(profile);
  write_file_atomically(out, "--out", [&](std::ostream& file) { file << profile_to_json(profile).dump(1) << "\n"; });
  spdlog::info("profile written to {}", out);
  return 0;
}

}  // namespace egc
