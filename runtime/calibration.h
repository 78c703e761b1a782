// Calibration: a DeviceProfile measured on a backend (egc_bench --calibrate): every GEMM of a grid
// of shapes in the executor's three transpose cases, and every other kernel at a few sizes (one
// unit, cache-resident, streamed from memory). Each figure is the median of timed repeats after a
// warm-up, synchronised after every call.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "planner/device_profile.h"
#include "runtime/backend.h"

namespace egc {

struct CalibrationOptions {
  std::vector<std::size_t> gemm_sizes{1, 4, 16, 64, 256, 1024};  // the grid's values of m, n and k
  // The other kernels' sizes, in elements (bytes for copies: 4 per element).
  std::vector<std::size_t> kernel_sizes{1, 4096, 65536, std::size_t{1} << 20, std::size_t{1} << 22};
  std::size_t repeats = 5;                               // timed calls per figure (at most)
  double seconds_per_figure = 0.25;                      // fewer repeats once this much is spent
};

// The kernels other than GEMMs that the executor and the trainer can call (their cost keys).
std::vector<KernelCall> calibrated_kernels(std::size_t units);

// `progress` (may be empty) receives a line per group of measurements.
DeviceProfile calibrate(Backend& backend, const CalibrationOptions& options,
                        const std::function<void(const std::string&)>& progress = {});

// A profile from the JSON file `path` (--profile); UsageError naming `flag` and the file when it
// cannot be read or is not a profile.
std::shared_ptr<const DeviceProfile> load_profile(const std::string& path, const std::string& flag = "--profile");
// The default for the backend: the CPU reference's for the CPU and the simulated device, the
// H200's for CUDA.
std::shared_ptr<const DeviceProfile> default_profile(const Backend& backend);

}  // namespace egc
