// measure_allocation_granularity: probe allocations and the free-memory drops they cause.
#include "runtime/allocation_granularity.h"

#include <algorithm>

#include "planner/units.h"

namespace egc {

std::string AllocationGranularity::summary() const {
  std::string text = format_bytes(granularity) + " (";
  for (std::size_t i = 0; i < probes.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(probes[i].requested) + " B took " + format_bytes(probes[i].free_drop);
    if (!probes[i].returned) text += " and did not all come back";
  }
  return text + ")";
}

std::optional<AllocationGranularity> measure_allocation_granularity(Backend& backend,
                                                                    const std::vector<std::size_t>& sizes) {
  if (!backend.device_free_bytes()) return std::nullopt;
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  std::vector<std::size_t> requests{2 * kMiB + 1, 64 * kMiB + 1};
  for (const std::size_t size : sizes)
    if (size >= 2 * kMiB && std::find(requests.begin(), requests.end(), size) == requests.end()) requests.push_back(size);
  AllocationGranularity result;
  std::size_t largest_overshoot = 0;
  for (const std::size_t requested : requests) {
    AllocationProbe probe;
    probe.requested = requested;
    const std::size_t before = *backend.device_free_bytes();
    void* pointer = backend.allocate(requested);
    const std::size_t held = *backend.device_free_bytes();
    backend.release(pointer);
    const std::size_t after = *backend.device_free_bytes();
    probe.free_drop = before > held ? before - held : 0;
    probe.returned = after == before;
    largest_overshoot = std::max(largest_overshoot, probe.free_drop > requested ? probe.free_drop - requested : 0);
    result.probes.push_back(probe);
  }
  result.granularity = largest_overshoot + 1;
  return result;
}

}  // namespace egc
