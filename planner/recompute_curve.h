// The recompute-against-memory curve of egc_bench --curve: over a sweep of activation budgets,
// the recomputation of the budget plan, of the best Chen greedy plan and of the best every:K
// that fit; the predicted step time of the budget plans of both objectives (--objective); and the
// (activation peak, recomputation) points of sqrtn, every:K and Chen's choice.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "planner/model_spec.h"

namespace egc {

// A plan's place on the curve.
struct CurvePoint {
  std::string plan;  // "budget", "chen-greedy", "every:4", "sqrtn", ...
  std::size_t activation_peak_bytes = 0;
  std::size_t recompute_flops = 0;
};

// A budget plan of one objective at a row's budget, with its predicted step time.
struct TimedPoint {
  CurvePoint point;
  double predicted_step_ms = 0;
};

struct CurveRow {
  std::size_t budget_bytes = 0;
  CurvePoint budget;                       // the budget plan of the curve's objective within the budget
  TimedPoint by_time;                      // the budget plan of --objective time, and
  TimedPoint by_flops;                     // of --objective flops, each with its predicted step time
  std::optional<CurvePoint> chen_greedy;   // the cheapest greedy plan (any b) within it
  std::optional<CurvePoint> every;         // the cheapest every:K within it
  std::optional<CurvePoint> sqrtn;         // sqrtn, when it fits
};

struct FixedPlanPoint {
  CurvePoint point;
  std::size_t budget_recompute_flops = 0;  // the budget plan at this point's activation peak
};

struct Curve {
  ModelSpec model;
  std::string preset;  // empty for a model given by flags
  std::size_t layers = 0;
  std::size_t forward_flops = 0;
  std::size_t min_feasible_bytes = 0;  // the smallest budget the budget planner accepts
  std::size_t none_peak_bytes = 0;     // none's activation peak: nothing recomputed above it
  double none_step_ms = 0;             // none's predicted step time: the least of any plan
  std::string profile_name;            // the device profile the times are predicted from
  Objective objective = Objective::time;  // what the `budget` points minimise
  std::vector<CurveRow> rows;          // budgets from min_feasible_bytes to none_peak_bytes
  std::vector<FixedPlanPoint> fixed;   // sqrtn, chen-greedy (Chen's search), every:1..n
};

// The curve's preset models: equal64 (64 hidden layers of 1024) and unequal (64 hidden layers
// alternating 2048 and 128, where uniform segments are clearly worse); in 1024, out 16. Batch,
// activation and optimizer come from `base`. Throws UsageError naming --preset and the names.
ModelSpec curve_preset(std::string_view name, const ModelSpec& base);

// `points` >= 2 budgets, evenly spaced; the budget plans minimise context.objective, priced by
// context's profile. Throws UsageError for points < 2.
Curve compute_curve(const ModelSpec& model, std::size_t points, std::string preset, const StepContext& context);

}  // namespace egc
