// parse_device and make_backend: CPU and the simulated device always, CUDA where built and present.
#include "runtime/backend_factory.h"

#include "planner/errors.h"
#include "runtime/cpu_backend.h"
#if EGC_HAVE_CUDA
#include "runtime/cuda_backend.h"
#endif

namespace egc {

DeviceChoice parse_device(std::string_view text, std::string_view flag) {
  return parse_name(kDeviceChoiceNames, text, flag, "device");
}

bool cuda_available(std::string* why) {
#if EGC_HAVE_CUDA
  return cuda_device_present(why);
#else
  if (why) *why = "this build of egc has no CUDA backend (no CUDA compiler was found when it was configured)";
  return false;
#endif
}

std::unique_ptr<Backend> make_backend(DeviceChoice choice, const BackendOptions& options) {
  std::string why;
  if (choice == DeviceChoice::cpu) return std::make_unique<CpuBackend>();
  if (choice == DeviceChoice::sim) return std::make_unique<SimulatedBackend>(options.sim);
  const bool have_cuda = cuda_available(&why);
  if (choice == DeviceChoice::cuda && !have_cuda) throw UsageError("--device cuda: " + why);
#if EGC_HAVE_CUDA
  if (have_cuda) return make_cuda_backend(options);
#else
  (void)options;
#endif
  return std::make_unique<CpuBackend>();
}

}  // namespace egc
