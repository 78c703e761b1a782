// The simulated driver's bookkeeping and the backend behind it.
#include "runtime/simulated_device.h"

#include <stdexcept>

#include "planner/units.h"

namespace egc {

SimulatedDeviceMemory::SimulatedDeviceMemory(std::size_t capacity_bytes, std::size_t granularity_bytes)
    : capacity_(capacity_bytes), granularity_(granularity_bytes) {
  if (granularity_ == 0 || granularity_ % kSmallAlignment != 0)
    throw std::invalid_argument("simulated device: the granularity must be a positive multiple of 512 bytes");
  if (capacity_ < granularity_) throw std::invalid_argument("simulated device: less memory than one granule");
}

void SimulatedDeviceMemory::take(std::size_t bytes, std::size_t requested) {
  if (bytes > free_bytes())
    throw std::runtime_error("simulated device: out of memory allocating " + std::to_string(requested) + " bytes (" +
                             format_bytes(free_bytes()) + " free)");
  used_ += bytes;
}

void SimulatedDeviceMemory::allocate(const void* key, std::size_t bytes) {
  if (allocations_.count(key)) throw std::logic_error("simulated device: the same allocation twice");
  Allocation allocation;
  if (bytes >= granularity_) {
    allocation.bytes = align_up(bytes, granularity_);
    take(allocation.bytes, bytes);
  } else {
    allocation.small = true;
    allocation.bytes = align_up(std::max<std::size_t>(bytes, 1), kSmallAlignment);
    std::size_t chunk = 0;
    while (chunk < chunk_used_.size() && chunk_used_[chunk] + allocation.bytes > granularity_) ++chunk;
    if (chunk == chunk_used_.size()) {
      take(granularity_, bytes);
      chunk_used_.push_back(0);
    }
    chunk_used_[chunk] += allocation.bytes;
    allocation.chunk = chunk;
  }
  allocations_.emplace(key, allocation);
}

void SimulatedDeviceMemory::release(const void* key) {
  const auto found = allocations_.find(key);
  if (found == allocations_.end()) return;
  const Allocation& allocation = found->second;
  if (allocation.small)
    chunk_used_[allocation.chunk] -= allocation.bytes;  // the chunk itself stays with the driver
  else
    used_ -= allocation.bytes;
  allocations_.erase(found);
}

SimulatedBackend::SimulatedBackend(const SimulatedDeviceOptions& options)
    : ForwardingBackend(cpu), memory_(options.capacity_bytes, options.granularity_bytes) {}

std::string SimulatedBackend::description() const {
  return "sim: CPU reference backend behind a simulated CUDA driver (" + format_bytes(memory_.capacity()) +
         ", allocation granularity " + format_bytes(memory_.granularity()) + ")";
}

void* SimulatedBackend::allocate(std::size_t bytes) {
  void* pointer = cpu.allocate(bytes);
  try {
    memory_.allocate(pointer, bytes);
  } catch (...) {
    cpu.release(pointer);
    throw;
  }
  return pointer;
}

void SimulatedBackend::release(void* pointer) noexcept {
  memory_.release(pointer);
  cpu.release(pointer);
}

}  // namespace egc
