// egc_bench --curve --host-memory SIZE: the three-way plans (keep, recompute or offload,
// planner/offload_plan.h) beside the best two-way plan (keep or recompute) at each activation
// budget, by predicted step time, as a table and JSON.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/curve_command.h"
#include "planner/device_profile.h"
#include "planner/model_spec.h"

namespace egc {

struct PlannedPoint {
  std::string plan;
  double step_ms = 0;
  std::size_t activation_peak_bytes = 0;
  std::size_t host_arena_bytes = 0;
  double stall_ms = 0;  // the compute stream waiting for copies
};

struct OffloadCurveRow {
  std::size_t budget_bytes = 0;  // k/points of none's activation peak
  std::optional<PlannedPoint> three_way;
  std::optional<PlannedPoint> two_way;  // the fastest of budget:SIZE, none, sqrtn, every:K that fits
};

struct OffloadCurve {
  ModelSpec model;
  std::string profile;
  std::size_t host_memory_bytes = 0;
  PlannedPoint none;
  std::size_t min_three_way_bytes = 0;  // the smallest budget the three-way planner fits
  std::vector<OffloadCurveRow> rows;
};

// Budgets k/points of none's activation peak, k = 1..points.
OffloadCurve compute_offload_curve(const ModelSpec& model, std::shared_ptr<const DeviceProfile> profile,
                                   std::size_t host_memory_bytes, std::size_t points);
std::string format_offload_curve(const OffloadCurve& curve);
nlohmann::json offload_curve_to_json(const OffloadCurve& curve);

// After the curve: the three-way table for --host-memory, priced by --profile (when given), at
// the curve's --points; with --json, the file the curve wrote gains "three_way".
int run_offload_curve(const ModelFlags& model_flags, const CurveFlags& curve, const std::string& host_memory,
                      const std::string& profile, const std::string& json);

}  // namespace egc
