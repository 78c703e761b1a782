// Budget plans under the time objective (--objective time): the dynamic program, its per-unit
// costs the predicted time of each recompute, against an exhaustive search of the schedule space
// whose costs are read from every finished plan's predicted step time; the DP's cost of the plan
// it returns against that plan's prediction; the lattice solver on equal widths; where the two
// objectives part (launch-bound narrow layers on the H200 profile), time is the faster.
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>

#include "planner/budget.h"
#include "planner/budget_chain.h"
#include "planner/device_profile.h"
#include "planner/make_plan.h"
#include "planner/recompute_cost.h"
#include "planner/recompute_curve.h"
#include "tests/exhaustive_search.h"

using namespace egc;
using namespace egc::testing;  // the exhaustive search and its test chains

TEST_CASE("time objective: budget equals an exhaustive search of all schedules, relu and GELU") {
  std::mt19937_64 rng(1313);
  const Tally t = tally(
      24,
      [&](int trial) {
        const std::size_t layers = trial < 20 ? 2 + trial % 5 : 7;
        return make_test_chain(rng, layers, trial % 4 < 2, trial % 2 ? Activation::gelu : Activation::relu);
      },
      [&](const TestChain& c) { return check_against_every_schedule(c, rng, Objective::time); });
  MESSAGE("time DP == exhaustive least predicted time on " << t.chains << " chains (2-7 layers), " << t.budgets
                                                          << " budgets; " << t.work << " schedules predicted");
}

TEST_CASE("time objective: residual blocks and dropout equal an exhaustive search of all schedules") {
  std::mt19937_64 rng(1414);
  const Tally t = tally(
      12,
      [&](int trial) {
        if (trial < 9) return make_block_chain(rng, 1 + trial % 4);
        TestChain c = make_test_chain(rng, 3 + trial % 3, trial % 2 == 0, Activation::gelu);
        c.model.dropout = 0.25;
        c.chain = build_chain(c.model);
        c.label += ", dropout";
        return c;
      },
      [&](const TestChain& c) { return check_against_every_schedule(c, rng, Objective::time); });
  MESSAGE("time DP == exhaustive least predicted time on " << t.chains << " block and dropout chains, " << t.budgets
                                                          << " budgets; " << t.work << " schedules predicted");
}

TEST_CASE("time objective: a recompute costs its op's predicted time without the tape") {
  ModelSpec model;
  model.hidden_widths = {32, 32, 32, 32, 32};
  model.activation = Activation::gelu;
  model.batch = 64;
  const Chain chain = build_chain(model);
  StepContext context;
  const std::vector<std::size_t> ps = unit_recompute_costs(chain, model, context);
  const Plan none = make_plan(model, context, parse_plan("none"));
  const Plan every2 = make_plan(model, context, parse_plan("every:2"));  // keeps 1 and 3: recomputes 0 and 2
  REQUIRE(every2.recomputed_forwards == 2);
  const double expected_ms = static_cast<double>(ps[0] + ps[2]) / kPicosecondsPerMs;
  CHECK(every2.predicted_step_ms - none.predicted_step_ms == doctest::Approx(expected_ms).epsilon(1e-9));
  context.objective = Objective::flops;
  const std::vector<std::size_t> flops = unit_recompute_costs(chain, model, context);
  for (std::size_t j = 0; j < chain.size(); ++j) CHECK(flops[j] == chain.layers[j].forward_flops);
  CHECK(std::string(recompute_cost_unit(Objective::time)) == "ps");
}

TEST_CASE("time objective: equal widths stay uniform for the lattice solver, and time never loses to flops") {
  for (Activation activation : {Activation::relu, Activation::gelu}) {
    ModelSpec model;
    model.hidden_widths.assign(40, 96);
    model.in_features = 5;
    model.activation = activation;
    model.batch = 48;
    const Chain chain = build_chain(model);
    StepContext time;
    const budget_dp::BudgetChain dp_chain(chain, unit_recompute_costs(chain, model, time));
    CHECK(dp_chain.uniform);  // the lattice's hulls apply: costs equal per hidden unit
    // And in the op-level space (GELU): derive costs equal per hidden unit too.
    const budget_dp::BudgetChain op_level(chain, unit_recompute_costs(chain, model, time), false,
                                          unit_derive_costs(chain, model, time));
    CHECK(op_level.uniform);
    CHECK(op_level.derives == (activation == Activation::gelu));
    StepContext flops = time;
    flops.objective = Objective::flops;
    const std::size_t low = BudgetPlanner(chain).min_activation_peak();
    const std::size_t high = make_plan(model, time, parse_plan("none")).activation_peak_bytes;
    for (int i = 0; i < 6; ++i) {
      const std::size_t budget = low + (high - low) * i / 5;
      const std::string plan = "budget:" + std::to_string(budget);
      CAPTURE(plan);
      const Plan by_time = make_plan(model, time, parse_plan(plan));
      const Plan by_flops = make_plan(model, flops, parse_plan(plan));
      CHECK(by_time.activation_peak_bytes <= budget);
      CHECK(by_time.predicted_step_ms <= by_flops.predicted_step_ms * (1 + 1e-12));
      // In the same (layer-level) space the FLOPs optimum recomputes the fewest FLOPs; an op-level
      // plan holds less per checkpoint and may recompute fewer.
      if (by_time.derived_outputs == 0) CHECK(by_flops.recompute_flops <= by_time.recompute_flops);
    }
  }
}

TEST_CASE("time objective: faster than the FLOPs objective where a recompute's time does not follow its FLOPs") {
  // 16 narrow layers after a wide input, on the H200 profile: each recompute costs about a launch,
  // layer 0's 256 times the FLOPs of another's (README: the curve).
  ModelSpec model;
  model.in_features = 4096;
  model.hidden_widths.assign(16, 16);
  model.batch = 32;
  StepContext context;
  context.profile = std::make_shared<DeviceProfile>(default_h200_profile());
  const Curve curve = compute_curve(model, 30, "", context);
  CHECK(curve.profile_name == default_h200_profile().name);
  std::size_t faster = 0;
  for (const CurveRow& row : curve.rows) {
    CAPTURE(row.budget_bytes);
    CHECK(row.by_time.predicted_step_ms <= row.by_flops.predicted_step_ms * (1 + 1e-12));
    CHECK(row.by_flops.point.recompute_flops <= row.by_time.point.recompute_flops);
    CHECK(row.by_time.predicted_step_ms >= curve.none_step_ms * (1 - 1e-12));
    if (row.by_time.predicted_step_ms < 0.9 * row.by_flops.predicted_step_ms) ++faster;
  }
  CHECK(faster >= 2);  // 0.562 against 0.927 ms at two budgets (README)
}
