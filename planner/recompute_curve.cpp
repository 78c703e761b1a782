// The recompute-against-memory curve: sweep budgets, measure the plans of every kind.
#include "planner/recompute_curve.h"

#include <algorithm>

#include "planner/budget.h"
#include "planner/chain.h"
#include "planner/chen_greedy.h"
#include "planner/errors.h"
#include "planner/recompute_cost.h"
#include "planner/step_time.h"
#include "planner/schedule.h"
#include "planner/units.h"

namespace egc {
namespace {

CurvePoint point_of(std::string plan, const ScheduleCost& cost) {
  return {std::move(plan), cost.activation_peak_bytes, cost.recompute_flops};
}

CurvePoint measure(const Chain& chain, const ModelSpec& model, const std::vector<std::size_t>& checkpoints,
                   std::string name) {
  return point_of(std::move(name), segmented_cost(chain, model, StepContext{}, checkpoints));
}

// One objective's budget plans, each with its predicted step time.
struct TimedBudgets {
  const Chain& chain;
  const ModelSpec& model;
  StepContext context;
  BudgetPlanner planner;
  KernelTimer timer;

  TimedBudgets(const Chain& chain_, const ModelSpec& model_, const StepContext& base, Objective objective)
      : chain(chain_),
        model(model_),
        context(with_objective(base, objective)),
        planner(BudgetPlanner::for_objective(chain, model, context)),
        timer(profile_of(context), "--profile") {}
  static StepContext with_objective(StepContext context, Objective objective) {
    context.objective = objective;
    return context;
  }
  double predicted_ms(const std::vector<ScheduleCall>& calls) const {
    Plan plan = build_schedule(chain, model, context, calls, "budget", "", Offsets::skip);
    predict_step_time(plan, timer);
    return plan.predicted_step_ms;
  }
  TimedPoint at(std::size_t budget) {
    const BudgetSchedule schedule = *planner.solve(budget);
    return {{"budget", schedule.activation_peak_bytes, schedule.recompute_flops}, predicted_ms(schedule.calls)};
  }
};

// The cheapest of `candidates` whose activation peak fits `budget`.
std::optional<CurvePoint> cheapest_within(const std::vector<CurvePoint>& candidates, std::size_t budget) {
  std::optional<CurvePoint> best;
  for (const CurvePoint& c : candidates)
    if (c.activation_peak_bytes <= budget && (!best || c.recompute_flops < best->recompute_flops)) best = c;
  return best;
}

}  // namespace

ModelSpec curve_preset(std::string_view name, const ModelSpec& base) {
  ModelSpec model = base;
  if (name == "equal64") {
    model.in_features = 1024;
    model.out_features = 16;
    model.hidden_widths.assign(64, 1024);
    return model;
  }
  if (name == "unequal") {
    // 64 hidden layers alternating wide (2048) and narrow (128): a narrow output costs a
    // sixteenth of a wide one to keep, and the layers around it a sixteenth to recompute;
    // uniform segments do not know that.
    model.in_features = 1024;
    model.out_features = 16;
    model.hidden_widths.clear();
    for (std::size_t i = 0; i < 64; ++i) model.hidden_widths.push_back(i % 2 == 0 ? 2048 : 128);
    return model;
  }
  throw UsageError("--preset: unknown preset '" + std::string(name) + "' (accepted: equal64, unequal)");
}

Curve compute_curve(const ModelSpec& model, std::size_t points, std::string preset, const StepContext& context) {
  if (points < 2) throw UsageError("--points: at least 2 budgets are needed (the smallest feasible and none's peak)");
  const Chain chain = build_chain(model);
  const std::size_t n = chain.size();
  Curve curve;
  curve.model = model;
  curve.preset = std::move(preset);
  curve.layers = n;
  curve.objective = context.objective;

  // Both objectives' planners: the curve's objective gives the recomputation columns, both the
  // predicted-time ones.
  TimedBudgets by_time(chain, model, context, Objective::time), by_flops(chain, model, context, Objective::flops);
  BudgetPlanner& planner = context.objective == Objective::time ? by_time.planner : by_flops.planner;
  curve.min_feasible_bytes = planner.min_activation_peak();
  curve.none_peak_bytes = measure(chain, model, none_checkpoints(n), "none").activation_peak_bytes;
  curve.none_step_ms = by_time.predicted_ms(segmented_calls(chain, none_checkpoints(n)));
  curve.profile_name = by_time.timer.profile().name;
  for (const Layer& layer : chain.layers) curve.forward_flops += layer.forward_flops;

  const CurvePoint sqrtn = measure(chain, model, sqrtn_checkpoints(n), "sqrtn");
  std::vector<CurvePoint> every;
  for (std::size_t k = 1; k <= n; ++k) every.push_back(measure(chain, model, every_k_checkpoints(n, k), "every:" + std::to_string(k)));
  std::vector<CurvePoint> greedy;
  for (const GreedyCandidate& g : all_greedy_plans(chain, model, StepContext{}))
    greedy.push_back(point_of("chen-greedy b=" + format_bytes(g.greedy.threshold), g));
  const std::vector<GreedyCandidate> search = chen_search(chain, model, StepContext{});
  const GreedyCandidate& chosen = *std::min_element(search.begin(), search.end(), less_peak);

  auto budget_at = [&](std::size_t peak) { return planner.solve(peak)->recompute_flops; };
  curve.fixed.push_back({sqrtn, budget_at(sqrtn.activation_peak_bytes)});
  curve.fixed.push_back({point_of("chen-greedy", chosen), budget_at(chosen.activation_peak_bytes)});
  for (const CurvePoint& p : every) curve.fixed.push_back({p, budget_at(p.activation_peak_bytes)});

  for (std::size_t i = 0; i < points; ++i) {
    const std::size_t budget =
        curve.min_feasible_bytes +
        static_cast<std::size_t>(static_cast<long double>(curve.none_peak_bytes - curve.min_feasible_bytes) * i /
                                 (points - 1));
    CurveRow row;
    row.budget_bytes = budget;
    const std::optional<BudgetSchedule> schedule = planner.solve(budget);
    row.budget = {"budget", schedule->activation_peak_bytes, schedule->recompute_flops};
    row.by_time = by_time.at(budget);
    row.by_flops = by_flops.at(budget);
    row.chen_greedy = cheapest_within(greedy, budget);
    row.every = cheapest_within(every, budget);
    if (sqrtn.activation_peak_bytes <= budget) row.sqrtn = sqrtn;
    curve.rows.push_back(row);
  }
  return curve;
}

}  // namespace egc
