// Planned against measured memory: the verdict (one check per figure both sides know, each
// within a stated tolerance) and the report's `measured` section.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/plan.h"
#include "runtime/memory_meter.h"

namespace egc {

struct MemoryCheck {
  std::string what;  // "arena", "activation peak"
  std::size_t planned = 0;
  std::optional<std::size_t> measured;  // nullopt where this allocation mode cannot measure it
  // The measured figure passes within [planned - below, planned + above): 0 and 1 on the host
  // (exact); on a device, allocations are rounded up to its granularity.
  std::size_t below = 0;
  std::size_t above = 1;
  bool ok() const;
};

struct MemoryVerdict {
  std::vector<MemoryCheck> checks;
  bool ok() const;  // every measured check passes
};

// The checks of `measured` against `plan`, for a device that rounds each allocation up to
// `granularity` bytes (1 on the host): the arena in arena mode, the activation peak in
// per-buffer mode.
MemoryVerdict memory_verdict(const Plan& plan, const MeasuredMemory& measured, std::size_t granularity);

// measured -> JSON: method, alloc, peak_bytes, activation_peak_bytes, arena_bytes (null where
// not measured), samples, baseline_free_bytes (on a device) and the timeline.
nlohmann::json measured_to_json(const MeasuredMemory& measured);

}  // namespace egc
