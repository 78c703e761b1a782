// The three-way curve: plans made with make_plan, compared by their predicted step time.
#include "apps/offload_curve.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "planner/chain.h"
#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/offload_plan.h"
#include "planner/step_time.h"
#include "planner/units.h"
#include "planner/recompute_curve.h"
#include "runtime/atomic_file.h"
#include "runtime/calibration.h"

namespace egc {
namespace {

PlannedPoint point_of(const Plan& plan) {
  return {plan.name, plan.predicted_step_ms, plan.activation_peak_bytes, plan.host_arena_bytes, plan.predicted_stall_ms};
}

// The plan, or nullopt where it cannot be made (an infeasible budget).
std::optional<Plan> try_plan(const ModelSpec& model, const StepContext& context, const std::string& text) {
  try {
    return make_plan(model, context, parse_plan(text));
  } catch (const UsageError&) {
    return std::nullopt;
  }
}

std::optional<PlannedPoint> best_two_way(const std::vector<Plan>& fixed, const ModelSpec& model,
                                         const StepContext& context, std::size_t budget) {
  std::optional<PlannedPoint> best;
  auto consider = [&](const Plan& plan) {
    if (plan.activation_peak_bytes <= budget && (!best || plan.predicted_step_ms < best->step_ms)) best = point_of(plan);
  };
  for (const Plan& plan : fixed) consider(plan);
  if (const std::optional<Plan> plan = try_plan(model, context, "budget:" + std::to_string(budget))) consider(*plan);
  return best;
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f ms", ms);
  return text;
}

std::string cell_ms(const std::optional<PlannedPoint>& point, double none_ms) {
  if (!point) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.3f ms (%+.1f%%)", point->step_ms, 100.0 * (point->step_ms / none_ms - 1.0));
  return text;
}

nlohmann::json point_json(const std::optional<PlannedPoint>& point) {
  if (!point) return nullptr;
  return {{"plan", point->plan},
          {"predicted_step_ms", point->step_ms},
          {"activation_peak_bytes", point->activation_peak_bytes},
          {"host_arena_bytes", point->host_arena_bytes},
          {"predicted_stall_ms", point->stall_ms}};
}

}  // namespace

OffloadCurve compute_offload_curve(const ModelSpec& model, std::shared_ptr<const DeviceProfile> profile,
                                   std::size_t host_memory_bytes, std::size_t points) {
  StepContext two_way;
  two_way.profile = std::move(profile);
  StepContext three_way = two_way;
  three_way.host_memory_bytes = host_memory_bytes;
  OffloadCurve curve;
  curve.model = model;
  curve.profile = profile_of(two_way).name;
  curve.host_memory_bytes = host_memory_bytes;
  const Chain chain = build_chain(model);
  std::vector<Plan> fixed{make_plan(model, two_way, parse_plan("none")), make_plan(model, two_way, parse_plan("sqrtn"))};
  for (std::size_t k = 2; k < chain.size(); k *= 2) fixed.push_back(make_plan(model, two_way, parse_plan("every:" + std::to_string(k))));
  curve.none = point_of(fixed.front());
  curve.min_three_way_bytes = min_offload_budget(
      offload_model_of(chain, model, three_way, KernelTimer(profile_of(three_way), "--profile")), host_memory_bytes);
  for (std::size_t k = 1; k <= points; ++k) {
    OffloadCurveRow row;
    row.budget_bytes = curve.none.activation_peak_bytes * k / points;
    if (row.budget_bytes >= curve.min_three_way_bytes)
      if (const std::optional<Plan> plan = try_plan(model, three_way, "budget:" + std::to_string(row.budget_bytes)))
        row.three_way = point_of(*plan);
    row.two_way = best_two_way(fixed, model, two_way, row.budget_bytes);
    curve.rows.push_back(std::move(row));
  }
  return curve;
}

std::string format_offload_curve(const OffloadCurve& curve) {
  std::ostringstream out;
  out << "\nThree-way plans (keep, recompute or offload; --host-memory " << format_bytes(curve.host_memory_bytes)
      << ") beside the best two-way plan (keep or recompute: budget:SIZE, none, sqrtn, every:K),\n"
      << "by predicted step time (profile: " << curve.profile << "); none: " << format_ms(curve.none.step_ms)
      << ", activation peak " << format_bytes(curve.none.activation_peak_bytes)
      << "; smallest three-way budget " << format_bytes(curve.min_three_way_bytes) << "\n\n";
  out << "  " << pad_left("budget", 12) << pad_left("of none", 9) << pad_left("three-way", 22) << pad_left("host arena", 13)
      << pad_left("exposed copies", 16) << pad_left("two-way", 22) << "  two-way plan\n";
  for (const OffloadCurveRow& row : curve.rows) {
    out << "  " << pad_left(format_bytes(row.budget_bytes), 12)
        << pad_left(format_percent(static_cast<double>(row.budget_bytes), static_cast<double>(curve.none.activation_peak_bytes), 0), 9)
        << pad_left(cell_ms(row.three_way, curve.none.step_ms), 22)
        << pad_left(row.three_way ? format_bytes(row.three_way->host_arena_bytes) : "-", 13)
        << pad_left(row.three_way ? format_ms(row.three_way->stall_ms) : "-", 16)
        << pad_left(cell_ms(row.two_way, curve.none.step_ms), 22) << "  " << (row.two_way ? row.two_way->plan : "-")
        << "\n";
  }
  return out.str();
}

nlohmann::json offload_curve_to_json(const OffloadCurve& curve) {
  nlohmann::json rows = nlohmann::json::array();
  for (const OffloadCurveRow& row : curve.rows)
    rows.push_back({{"budget_bytes", row.budget_bytes}, {"three_way", point_json(row.three_way)}, {"two_way", point_json(row.two_way)}});
  return {{"profile", curve.profile},
          {"host_memory_bytes", curve.host_memory_bytes},
          {"none", point_json(curve.none)},
          {"min_three_way_bytes", curve.min_three_way_bytes},
          {"rows", rows}};
}

}  // namespace egc

namespace egc {

int run_offload_curve(const ModelFlags& model_flags, const CurveFlags& curve, const std::string& host_memory,
                      const std::string& profile, const std::string& json) {
  const std::size_t host = parse_size(host_memory, "--host-memory");
  if (host == 0) throw UsageError("--host-memory: 0 B leaves nothing to offload to; give a size such as 64GiB");
  ModelSpec model = resolve_model(model_flags);
  if (!curve.preset.empty()) model = curve_preset(curve.preset, model);
  const OffloadCurve result = compute_offload_curve(model, profile.empty() ? nullptr : load_profile(profile), host,
                                                    parse_positive(curve.points, "--points"));
  std::cout << format_offload_curve(result);
  if (!json.empty()) {
    nlohmann::json file;
    {
      std::ifstream in(json);
      file = nlohmann::json::parse(in);
    }
    file["three_way"] = offload_curve_to_json(result);
    write_file_atomically(json, "--json", [&](std::ostream& out) { out << file.dump(2) << "\n"; });
  }
  return 0;
}

}  // namespace egc
