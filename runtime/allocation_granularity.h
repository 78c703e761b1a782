// How a device hands out memory, measured rather than assumed: the drop in free memory
// (Backend::device_free_bytes, cudaMemGetInfo) that allocations of a few sizes cause. From it,
// the granularity G: an allocation of n bytes was seen to take between n and n + G - 1 bytes, so
// a measured peak is compared with the planned one within G.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "runtime/backend.h"

namespace egc {

struct AllocationProbe {
  std::size_t requested = 0;
  std::size_t free_drop = 0;     // free memory before minus free memory while it was held
  bool returned = false;         // free memory came back to where it was once it was released
};

struct AllocationGranularity {
  std::vector<AllocationProbe> probes;
  std::size_t granularity = 0;   // 1 + the largest (free_drop - requested) of the probes
  std::string summary() const;   // "2.00 MiB (1 B took 2.00 MiB, 2.00 MiB + 1 B took 4.00 MiB, ...)"
};

// Probes 2 MiB + 1 B, 64 MiB + 1 B and each of `sizes` (the arena, say: its own rounding rather
// than one extrapolated from smaller probes), one at a time, through backend.allocate/release.
// Nothing below 2 MiB: the driver serves small allocations from chunks they share, so their
// drop in free memory is a whole chunk or nothing, and the chunk may stay after the free.
// nullopt on a backend that reports no free device memory (the CPU). Call it before any step
// memory exists: it needs a quiet device.
std::optional<AllocationGranularity> measure_allocation_granularity(Backend& backend,
                                                                    const std::vector<std::size_t>& sizes = {});

}  // namespace egc
