// The memory verdict and the report's measured section.
#include "runtime/memory_report.h"

#include <algorithm>


namespace egc {

bool MemoryCheck::ok() const {
  if (!measured) return true;
  return *measured + below >= planned && *measured < planned + above;
}

bool MemoryVerdict::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const MemoryCheck& check) { return check.ok(); });
}

MemoryVerdict memory_verdict(const Plan& plan, const MeasuredMemory& measured, std::size_t granularity) {
  const std::size_t g = std::max<std::size_t>(granularity, 1);
  MemoryVerdict verdict;
  if (measured.alloc == AllocMode::arena) {
    verdict.checks.push_back({"arena", plan.arena_bytes, measured.arena_bytes, 0, g});
  } else {
    // Each buffer's allocation may round up by less than g, and a small one may be served from
    // memory the device already holds.
    verdict.checks.push_back({"activation peak", plan.activation_peak_bytes, measured.activation_peak_bytes, g - 1, g});
  }
  return verdict;
}

nlohmann::json measured_to_json(const MeasuredMemory& measured) {
  nlohmann::json json = {{"method", measured.method},
                         {"alloc", to_string(measured.alloc)},
                         {"peak_bytes", measured.peak_bytes},
                         {"activation_peak_bytes", nullptr},
                         {"arena_bytes", nullptr},
                         {"samples", measured.samples}};
  if (measured.activation_peak_bytes) json["activation_peak_bytes"] = *measured.activation_peak_bytes;
  if (measured.arena_bytes) json["arena_bytes"] = *measured.arena_bytes;
  if (measured.baseline_free_bytes) json["baseline_free_bytes"] = *measured.baseline_free_bytes;
  nlohmann::json timeline = nlohmann::json::array();
  for (const MemorySample& sample : measured.timeline)
    timeline.push_back({{"op", sample.op}, {"after", sample.after}, {"bytes", sample.bytes}});
  json["timeline"] = timeline;
  return json;
}

}  // namespace egc
