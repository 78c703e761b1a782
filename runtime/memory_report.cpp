// The device's view of planned buffers, the memory verdict, and the report's measured section.
#include "runtime/memory_report.h"

#include <algorithm>

#include "planner/units.h"

namespace egc {

ByteRange device_bytes(std::size_t footprint, std::size_t granularity) {
  if (granularity <= 1) return {footprint, footprint};
  if (footprint >= granularity) {
    const std::size_t rounded = align_up(footprint, granularity);
    return {rounded, rounded};
  }
  return {0, granularity};
}

ByteRange planned_transient_peak(const Plan& plan, std::size_t granularity) {
  // Per op, the change in what is alive: a buffer adds its bytes at its first op and removes
  // them after its last.
  std::vector<ByteRange> change(plan.ops.size() + 1);
  std::vector<std::size_t> removed_low(plan.ops.size() + 1), removed_high(plan.ops.size() + 1);
  for (const Buffer& buffer : plan.buffers) {
    if (buffer.persistent || buffer.host) continue;  // the host arena has its own check
    const ByteRange bytes = device_bytes(buffer.footprint, granularity);
    change[buffer.first_op].low += bytes.low;
    change[buffer.first_op].high += bytes.high;
    removed_low[buffer.last_op + 1] += bytes.low;
    removed_high[buffer.last_op + 1] += bytes.high;
  }
  ByteRange live, peak;
  for (std::size_t op = 0; op < plan.ops.size(); ++op) {
    live.low = live.low + change[op].low - removed_low[op];
    live.high = live.high + change[op].high - removed_high[op];
    peak.low = std::max(peak.low, live.low);
    peak.high = std::max(peak.high, live.high);
  }
  return peak;
}

bool MemoryVerdict::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const MemoryCheck& check) { return check.ok(); });
}

MemoryVerdict memory_verdict(const Plan& plan, const MeasuredMemory& measured, std::size_t granularity) {
  MemoryVerdict verdict;
  verdict.granularity = std::max<std::size_t>(granularity, 1);
  const bool device = measured.baseline_free_bytes.has_value();
  const std::size_t g = device ? verdict.granularity : 1;
  if (measured.alloc == AllocMode::arena) {
    verdict.checks.push_back({"arena", device_bytes(plan.arena_bytes, g), measured.arena_bytes});
    verdict.checks.push_back({"transient peak", {0, 0}, measured.transient_peak_bytes});
  } else {
    verdict.checks.push_back({"transient peak", planned_transient_peak(plan, g), measured.transient_peak_bytes});
    if (!device)
      verdict.checks.push_back({"activation peak", {plan.activation_peak_bytes, plan.activation_peak_bytes},
                                measured.activation_peak_bytes});
  }
  // The host arena is counted exactly on every backend (its allocations are the backend's own);
  // per-buffer mode holds at most the host live peak, which the arena's size is.
  if (plan.host_arena_bytes > 0) {
    const std::size_t host_peak = *std::max_element(plan.host_live_bytes.begin(), plan.host_live_bytes.end());
    const std::size_t planned = measured.alloc == AllocMode::arena ? plan.host_arena_bytes : host_peak;
    verdict.checks.push_back({"host arena", {planned, planned}, measured.host_peak_bytes});
  }
  return verdict;
}

std::string format_verdict(const MemoryVerdict& verdict) {
  std::string text = std::string("memory verdict: ") + (verdict.ok() ? "PASS" : "FAIL") +
                     (verdict.granularity > 1 ? " (allocation granularity " + format_bytes(verdict.granularity) + ")"
                                              : " (exact)") +
                     "\n";
  for (const MemoryCheck& check : verdict.checks) {
    const std::string planned =
        check.planned.low == check.planned.high
            ? format_bytes(check.planned.low)
            : format_bytes(check.planned.low) + " to " + format_bytes(check.planned.high);
    text += "  " + pad_right(check.what, 18) + " planned " + pad_left(planned, 26) + ", measured " +
            pad_left(check.measured ? format_bytes(*check.measured) : "-", 12) + "  " + (check.ok() ? "ok" : "MISMATCH") +
            "\n";
  }
  return text;
}

nlohmann::json measured_to_json(const MeasuredMemory& measured) {
  nlohmann::json json = {{"method", measured.method},
                         {"alloc", to_string(measured.alloc)},
                         {"peak_bytes", measured.peak_bytes},
                         {"setup_bytes", measured.setup_bytes},
                         {"transient_peak_bytes", measured.transient_peak_bytes},
                         {"activation_peak_bytes", nullptr},
                         {"arena_bytes", nullptr},
                         {"samples", measured.samples}};
  if (measured.activation_peak_bytes) json["activation_peak_bytes"] = *measured.activation_peak_bytes;
  if (measured.arena_bytes) json["arena_bytes"] = *measured.arena_bytes;
  if (measured.baseline_free_bytes) json["baseline_free_bytes"] = *measured.baseline_free_bytes;
  if (measured.host_peak_bytes > 0) json["host_peak_bytes"] = measured.host_peak_bytes;
  nlohmann::json timeline = nlohmann::json::array();
  for (const MemorySample& sample : measured.timeline) {
    timeline.push_back({{"op", sample.op}, {"after", sample.after}, {"bytes", sample.bytes}});
    if (measured.host_peak_bytes > 0) timeline.back()["host_bytes"] = sample.host_bytes;
  }
  json["timeline"] = timeline;
  return json;
}

nlohmann::json verdict_to_json(const MemoryVerdict& verdict) {
  nlohmann::json checks = nlohmann::json::array();
  for (const MemoryCheck& check : verdict.checks)
    checks.push_back({{"what", check.what},
                      {"planned_low_bytes", check.planned.low},
                      {"planned_high_bytes", check.planned.high},
                      {"measured_bytes", check.measured ? nlohmann::json(*check.measured) : nlohmann::json(nullptr)},
                      {"ok", check.ok()}});
  return {{"ok", verdict.ok()}, {"granularity_bytes", verdict.granularity}, {"checks", checks}};
}

}  // namespace egc
