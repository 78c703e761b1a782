// The CUDA driver's device memory as cudaMemGetInfo shows it, simulated on the host so that the
// memory proof (granularity probe, meter, verdicts, fit check, auto's margin) runs in CI:
// SimulatedDeviceMemory is the driver's bookkeeping, SimulatedBackend the CPU reference backend
// behind it (--device sim). Only the kernels and cuBLAS differ from a run on the GPU.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/cpu_backend.h"
#include "runtime/forwarding_backend.h"

namespace egc {

// What the driver does with an allocation of n bytes, as far as free memory shows it: n of one
// granule or more takes n rounded up to the granularity, and gives it back when freed; a smaller
// one is served from a chunk of one granule shared with other small allocations (each rounded up
// to kSmallAlignment within it), a chunk being taken from free memory when none has room and
// kept after its last allocation is freed. So a small allocation drops free memory by a whole
// granule or by nothing, and freeing it may give nothing back.
class SimulatedDeviceMemory {
 public:
  static constexpr std::size_t kSmallAlignment = 512;

  // Throws std::invalid_argument for a zero granularity or a capacity below one granule.
  SimulatedDeviceMemory(std::size_t capacity_bytes, std::size_t granularity_bytes);

  // Records the allocation under `key`; throws std::runtime_error naming the bytes when free
  // memory is short (cudaMalloc's cudaErrorMemoryAllocation).
  void allocate(const void* key, std::size_t bytes);
  void release(const void* key);

  std::size_t free_bytes() const { return capacity_ - used_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t granularity() const { return granularity_; }
  std::size_t chunks() const { return chunk_used_.size(); }

 private:
  struct Allocation {
    std::size_t bytes = 0;  // taken from free memory (large) or from its chunk (small)
    std::size_t chunk = 0;  // small ones: which chunk
    bool small = false;
  };
  void take(std::size_t bytes, std::size_t requested);

  std::size_t capacity_;
  std::size_t granularity_;
  std::size_t used_ = 0;                 // capacity - what cudaMemGetInfo would report free
  std::vector<std::size_t> chunk_used_;  // bytes of each chunk in use by small allocations
  std::unordered_map<const void*, Allocation> allocations_;
};

struct SimulatedDeviceOptions {
  std::size_t capacity_bytes = std::size_t{80} << 30;  // an 80 GiB device
  std::size_t granularity_bytes = std::size_t{2} << 20;
};

// The CPU reference backend (the math, host memory) with every allocation also made on a
// SimulatedDeviceMemory, whose free memory it reports as device_free_bytes.
struct CpuBackendHolder {  // a base before ForwardingBackend, so the CPU backend exists first
  CpuBackend cpu;
};
class SimulatedBackend final : private CpuBackendHolder, public ForwardingBackend {
 public:
  explicit SimulatedBackend(const SimulatedDeviceOptions& options);

  DeviceKind device() const override { return DeviceKind::simulated; }
  std::string description() const override;
  void* allocate(std::size_t bytes) override;
  void release(void* pointer) noexcept override;
  std::optional<std::size_t> device_free_bytes() override { return memory_.free_bytes(); }

  const SimulatedDeviceMemory& memory() const { return memory_; }

 private:
  SimulatedDeviceMemory memory_;
};

}  // namespace egc
