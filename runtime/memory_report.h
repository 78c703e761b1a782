// Planned against measured memory: what the plan predicts a device shows of each allocation, the
// verdict (one check per figure both sides know, each with the range it must fall in, derived
// below), and the report's `measured` section.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/plan.h"
#include "runtime/memory_meter.h"

namespace egc {

// What a device's free memory shows of an allocation of `footprint` bytes, given its allocation
// granularity G (AllocationGranularity; 1 on the host, which counts bytes exactly): one of G or
// more takes exactly its size rounded up to G; a smaller one is served from a chunk of one
// granule that the driver shares between small allocations, so it shows as anything from
// nothing (room in a chunk the driver holds) to one whole granule (a new chunk).
struct ByteRange {
  std::size_t low = 0;
  std::size_t high = 0;
};
ByteRange device_bytes(std::size_t footprint, std::size_t granularity);

// The largest sum, over the ops, of the short-lived (non-persistent) buffers alive at the op, as
// device_bytes counts each: low from the low ends, high from the high ends. Per-buffer mode holds
// exactly these above its set-up level, so the measured transient peak lies in [low, high].
ByteRange planned_transient_peak(const Plan& plan, std::size_t granularity);

struct MemoryCheck {
  std::string what;  // "arena", "transient peak", "activation peak"
  ByteRange planned;  // the measured figure passes when it lies in [low, high]
  std::optional<std::size_t> measured;
  bool ok() const { return measured && *measured >= planned.low && *measured <= planned.high; }
};

struct MemoryVerdict {
  std::size_t granularity = 1;
  std::vector<MemoryCheck> checks;
  bool ok() const;  // every check passes
};

// The checks of `measured` against `plan` for a device of allocation granularity `granularity`
// (1 on the host):
//   arena mode:      the arena, as device_bytes(arena) shows; and the transient peak: nothing
//                    may be allocated after the set-up, exactly 0 bytes (a device shows any new
//                    allocation but one served from a chunk it already holds).
//   per-buffer mode: the transient peak within planned_transient_peak; on the host also the
//                    activation peak, counted by kind, exactly.
//   offloading plans: the host arena's most held, exactly (host_arena_bytes in arena mode, the
//                    host live peak per buffer).
MemoryVerdict memory_verdict(const Plan& plan, const MeasuredMemory& measured, std::size_t granularity);

// "within ... : PASS" and one line per check, for the printout.
std::string format_verdict(const MemoryVerdict& verdict);

// measured -> JSON: method, alloc, peak_bytes, setup_bytes, transient_peak_bytes,
// activation_peak_bytes and arena_bytes (null where not measured), samples, baseline_free_bytes
// (on a device), host_peak_bytes (offloading plans) and the timeline.
nlohmann::json measured_to_json(const MeasuredMemory& measured);
nlohmann::json verdict_to_json(const MemoryVerdict& verdict);

}  // namespace egc
