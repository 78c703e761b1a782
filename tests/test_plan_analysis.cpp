// Plan analysis in the planner: the fit check's candidate plans, the recomputation curve of
// egc_bench --curve, and the FLOPs of a chain's ops.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "planner/chain.h"
#include "planner/make_plan.h"
#include "planner/recompute_curve.h"
#include "planner/schedule.h"
#include "tests/plan_checks.h"

using namespace egc;
using egc::testing::equal_model;

namespace {

std::vector<std::string> names_of(const std::vector<Plan>& plans) {
  std::vector<std::string> names;
  for (const Plan& plan : plans) names.push_back(plan.name);
  return names;
}

}  // namespace

TEST_CASE("fit candidates: none, sqrtn, every:2^k below n, and auto where a plan fits the limit") {
  const ModelSpec model = equal_model(15, 256, 64);  // 16 layers
  StepContext context;
  context.dataset_rows = 1000;
  const Plan none = make_plan(model, context, parse_plan("none"));
  context.memory_limit_source = MemoryLimitSource::device;
  context.memory_limit_bytes = std::size_t{1} << 40;
  CHECK(names_of(fit_candidates(model, context)) ==
        std::vector<std::string>{"none", "sqrtn", "every:2", "every:4", "every:8", "auto"});
  // With --max-memory just below none's arena, none is ruled out and auto recomputes.
  context.memory_limit_source = MemoryLimitSource::user;
  context.memory_limit_bytes = none.arena_bytes - 1;
  const std::vector<Plan> limited = fit_candidates(model, context);
  for (const Plan& plan : limited) {
    INFO(plan.name);
    CHECK(plan.arena_bytes <= context.memory_limit_bytes);
  }
  const std::vector<std::string> names = names_of(limited);
  CHECK(std::find(names.begin(), names.end(), "none") == names.end());
  CHECK(names.back() == "auto");
  CHECK(limited.back().recompute_flops > 0);
  // A limit nothing fits: no auto, and no error either (it is an answer, not a failure).
  context.memory_limit_bytes = 1;
  CHECK(fit_candidates(model, context).empty());
}

TEST_CASE("the recomputation curve: budgets from the smallest feasible to none's peak, budget never worse") {
  const ModelSpec model = equal_model(11, 64, 32);  // 12 layers
  StepContext least_flops;  // the objective the comparisons of recomputed FLOPs below need
  least_flops.objective = Objective::flops;
  const Curve curve = compute_curve(model, 5, "", least_flops);
  const Plan none = make_plan(model, StepContext{}, parse_plan("none"));
  const Plan sqrtn = make_plan(model, StepContext{}, parse_plan("sqrtn"));
  CHECK(curve.layers == 12);
  CHECK(curve.forward_flops == none.forward_flops);
  CHECK(curve.none_peak_bytes == none.activation_peak_bytes);
  REQUIRE(curve.rows.size() == 5);
  CHECK(curve.rows.front().budget_bytes == curve.min_feasible_bytes);
  CHECK(curve.rows.back().budget_bytes == curve.none_peak_bytes);
  CHECK(curve.rows.back().budget.recompute_flops == 0);  // nothing recomputed at none's peak
  for (const CurveRow& row : curve.rows) {
    INFO("budget " << row.budget_bytes);
    CHECK(row.budget.activation_peak_bytes <= row.budget_bytes);
    for (const std::optional<CurvePoint>& other : {row.chen_greedy, row.every, row.sqrtn}) {
      if (!other) continue;
      CHECK(other->activation_peak_bytes <= row.budget_bytes);
      CHECK(row.budget.recompute_flops <= other->recompute_flops);
    }
    CHECK(row.sqrtn.has_value() == (sqrtn.activation_peak_bytes <= row.budget_bytes));
  }
  // Fixed points: sqrtn, Chen's choice, every:1..n, each with the budget plan at its own peak.
  REQUIRE(curve.fixed.size() == 2 + 12);
  CHECK(curve.fixed[0].point.plan == "sqrtn");
  CHECK(curve.fixed[0].point.recompute_flops == sqrtn.recompute_flops);
  CHECK(curve.fixed[1].point.plan == "chen-greedy");
  CHECK(curve.fixed[2].point.plan == "every:1");
  CHECK(curve.fixed[2].point.recompute_flops == 0);
  for (const FixedPlanPoint& fixed : curve.fixed) CHECK(fixed.budget_recompute_flops <= fixed.point.recompute_flops);
  CHECK_THROWS_AS(compute_curve(model, 1, "", least_flops), UsageError);
}

TEST_CASE("FLOPs of a chain's ops: forward GEMM, bias and activation - backward GEMMs but dX of layer 0") {
  ModelSpec model;
  model.in_features = 3;
  model.hidden_widths = {5};
  model.out_features = 2;
  model.batch = 7;
  const Chain chain = build_chain(model);
  // Layer 0: 3 -> 5 with relu; layer 1: 5 -> 2, identity.
  CHECK(chain.layers[0].forward_flops == 2 * 7 * 3 * 5 + 2 * 7 * 5);
  CHECK(chain.layers[1].forward_flops == 2 * 7 * 5 * 2 + 7 * 2);
  CHECK(chain.layers[0].backward_gemm_flops == 2 * 7 * 3 * 5);      // dW only: the data needs no gradient
  CHECK(chain.layers[1].backward_gemm_flops == 2 * 2 * 7 * 5 * 2);  // dW and dX
  CHECK(chain.backward_gemm_flops() == 2 * 7 * 3 * 5 + 4 * 7 * 5 * 2);
}

TEST_CASE("segmented_cost and less_peak: the cost without a layout, ordered by peak then recomputation") {
  const ModelSpec model = equal_model(8, 32, 16);
  const Chain chain = build_chain(model);
  const Plan sqrtn = make_plan(model, StepContext{}, parse_plan("sqrtn"));
  const ScheduleCost cost = segmented_cost(chain, model, StepContext{}, sqrtn_checkpoints(chain.size()));
  CHECK(cost.activation_peak_bytes == sqrtn.activation_peak_bytes);
  CHECK(cost.recompute_flops == sqrtn.recompute_flops);
  CHECK(none_checkpoints(4) == std::vector<std::size_t>{0, 1, 2});
  CHECK(less_peak({100, 5}, {200, 1}));
  CHECK(less_peak({100, 1}, {100, 5}));
  CHECK_FALSE(less_peak({100, 5}, {100, 5}));
}
