// MemoryMeter: host counts or device free-memory samples.
#include "runtime/memory_meter.h"

#include <algorithm>

namespace egc {

MemoryMeter::MemoryMeter(Backend& backend) : backend_(backend) {
  const std::optional<std::size_t> free = backend.device_free_bytes();
  device_ = free.has_value();
  baseline_ = device_ ? *free : backend.allocated_bytes();
  host_baseline_ = backend.host_allocated_bytes();
  backend.reset_peak_allocated_bytes();
}

std::size_t MemoryMeter::used_now() {
  ++samples_;
  if (device_) {
    const std::size_t free = *backend_.device_free_bytes();
    return baseline_ > free ? baseline_ - free : 0;
  }
  const std::size_t allocated = backend_.allocated_bytes();
  return allocated > baseline_ ? allocated - baseline_ : 0;
}

std::size_t MemoryMeter::host_used_now() {
  const std::size_t allocated = backend_.host_allocated_bytes();
  const std::size_t used = allocated > host_baseline_ ? allocated - host_baseline_ : 0;
  host_peak_ = std::max(host_peak_, used);
  return used;
}

void MemoryMeter::setup_done() {
  host_used_now();
  setup_used_ = used_now();
  peak_used_ = std::max(peak_used_, setup_used_);
}

void MemoryMeter::sample() {
  host_used_now();
  peak_used_ = std::max(peak_used_, used_now());
}

void MemoryMeter::sample_op(std::size_t op, bool after) {
  const std::size_t used = used_now();
  peak_used_ = std::max(peak_used_, used);
  const std::size_t host = host_used_now();
  if (recording_) timeline_.push_back({op, after, used, host});
}

void MemoryMeter::start_timeline(std::size_t ops) {
  timeline_.clear();
  timeline_.reserve(2 * ops);
  recording_ = true;
}

MeasuredMemory MemoryMeter::result(const StepMemory& memory) const {
  MeasuredMemory measured;
  measured.method = !device_ ? "host allocation count"
                    : backend_.device() == DeviceKind::simulated ? "cudaMemGetInfo (simulated device)"
                                                                  : "cudaMemGetInfo";
  measured.alloc = memory.mode();
  measured.samples = samples_;
  measured.timeline = timeline_;
  measured.setup_bytes = setup_used_;
  measured.host_peak_bytes = host_peak_;
  if (device_) {
    measured.baseline_free_bytes = baseline_;
    measured.peak_bytes = peak_used_;
  } else {
    // Exact: the backend counted every byte it handed out.
    const std::size_t peak = backend_.peak_allocated_bytes();
    measured.peak_bytes = peak > baseline_ ? peak - baseline_ : 0;
  }
  measured.transient_peak_bytes = measured.peak_bytes > setup_used_ ? measured.peak_bytes - setup_used_ : 0;
  if (memory.mode() == AllocMode::arena)
    measured.arena_bytes = setup_used_;
  else if (!device_)
    measured.activation_peak_bytes = memory.counted().activation_peak;
  return measured;
}

}  // namespace egc
