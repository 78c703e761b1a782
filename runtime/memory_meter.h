// MemoryMeter: what a step really held. On the host, the backend's exact count of the bytes it
// allocated; on a device, free memory as the device reports it (cudaMemGetInfo), sampled
// around ops: the peak is the baseline (before the arena) minus the lowest free memory seen.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/step_memory.h"

namespace egc {

// One memory sample taken around an op: what the step held then.
struct MemorySample {
  std::size_t op = 0;
  bool after = false;  // taken after the op ran (else before)
  std::size_t bytes = 0;
  std::size_t host_bytes = 0;  // the host arena's memory then (Backend::host_allocated_bytes)
};

struct MeasuredMemory {
  // "host allocation count", "cudaMemGetInfo", or the simulated device's "cudaMemGetInfo (sim)"
  std::string method;
  AllocMode alloc = AllocMode::arena;
  std::size_t peak_bytes = 0;   // the most the step held at once
  std::size_t setup_bytes = 0;  // what the set-up held: the arena, or the persistent buffers
  // The most held above the set-up level during the steps: the short-lived buffers in per-buffer
  // mode; in arena mode anything allocated outside the plan (planned: nothing).
  std::size_t transient_peak_bytes = 0;
  // Per-buffer mode on the host, counted by buffer kind (a device's free memory cannot tell
  // activations from the other short-lived buffers: see transient_peak_bytes).
  std::optional<std::size_t> activation_peak_bytes;
  std::optional<std::size_t> arena_bytes;          // arena mode only: the one allocation
  std::optional<std::size_t> baseline_free_bytes;  // device: free memory before the arena
  std::size_t samples = 0;
  std::vector<MemorySample> timeline;  // the samples of the recorded step, in op order
  std::size_t host_peak_bytes = 0;     // the most the host arena held at a sample (offloading plans)
};

class MemoryMeter {
 public:
  // Takes the baseline: call once the backend is ready and before any step memory exists.
  explicit MemoryMeter(Backend& backend);
  // Call once the step memory is set up (the arena, or the persistent buffers).
  void setup_done();
  void sample();
  // A sample around `op`; kept in the timeline while recording.
  void sample_op(std::size_t op, bool after);
  // Records the samples of one step into the timeline (room for `ops` ops reserved up front).
  void start_timeline(std::size_t ops);
  void stop_timeline() { recording_ = false; }
  MeasuredMemory result(const StepMemory& memory) const;

 private:
  std::size_t used_now();
  std::size_t host_used_now();

  Backend& backend_;
  bool device_ = false;
  std::size_t baseline_ = 0;  // device: free bytes; host: allocated bytes
  std::size_t host_baseline_ = 0;  // Backend::host_allocated_bytes before the step memory
  std::size_t host_peak_ = 0;
  std::size_t setup_used_ = 0;
  std::size_t peak_used_ = 0;
  std::size_t samples_ = 0;
  bool recording_ = false;
  std::vector<MemorySample> timeline_;
};

}  // namespace egc
