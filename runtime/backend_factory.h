// Choosing and creating a Backend: --device auto|cpu|cuda|sim.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "planner/enum_names.h"
#include "runtime/backend.h"
#include "runtime/simulated_device.h"

namespace egc {

// sim: the CPU reference backend behind a simulated CUDA driver (runtime/simulated_device.h).
enum class DeviceChoice { automatic, cpu, cuda, sim };
inline constexpr EnumName<DeviceChoice> kDeviceChoiceNames[] = {
    {DeviceChoice::automatic, "auto"}, {DeviceChoice::cpu, "cpu"}, {DeviceChoice::cuda, "cuda"}, {DeviceChoice::sim, "sim"}};
static_assert(names_in_order(kDeviceChoiceNames) && count_of(kDeviceChoiceNames) == 1 + int(DeviceChoice::sim));
DeviceChoice parse_device(std::string_view text, std::string_view flag = "--device");

struct BackendOptions {
  bool tf32 = false;    // CUDA: allow TF32 tensor-core math in GEMMs (off: exact float32)
  int cuda_device = 0;
  SimulatedDeviceOptions sim;  // --device sim: its memory and allocation granularity
};

// Whether this build has the CUDA backend and a CUDA device is present; `why` says why not.
bool cuda_available(std::string* why);

// automatic: CUDA when available, else the CPU. cuda without a device or without CUDA in the
// build: UsageError naming --device and the reason.
std::unique_ptr<Backend> make_backend(DeviceChoice choice, const BackendOptions& options);

}  // namespace egc
