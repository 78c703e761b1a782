// Budget plans in the op-level space (--objective time): checkpoints of GELU (and tanh+dropout)
// layers kept as their pre-activations only, re-derived where read. The dynamic program against an
// exhaustive search of that space; its plans' peaks and predicted times against its own figures;
// against the layer-level plan at sqrtn's peak; the 2%-of-none point on a wide GELU chain.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "planner/budget.h"
#include "planner/make_plan.h"
#include "planner/recompute_cost.h"
#include "planner/step_time.h"
#include "tests/exhaustive_search.h"

using namespace egc;
using namespace egc::testing;  // the exhaustive search and its test chains

namespace {

std::size_t count_derives(const std::vector<ScheduleCall>& calls) {
  std::size_t count = 0;
  for (const ScheduleCall& call : calls) count += call.kind == OpKind::derive;
  return count;
}

ModelSpec wide_gelu(std::size_t hidden, std::size_t width, std::size_t batch) {
  ModelSpec model;
  model.in_features = width;
  model.out_features = 16;
  model.hidden_widths.assign(hidden, width);
  model.activation = Activation::gelu;
  model.batch = batch;
  return model;
}

// The time-objective budget plan at `budget` against the layer-level one (the planner without derives).
struct TwoSpaces {
  ModelSpec model;
  Chain chain;
  StepContext context;
  BudgetPlanner op_level, layer_level;
  explicit TwoSpaces(const ModelSpec& spec)
      : model(spec),
        chain(build_chain(spec)),
        op_level(BudgetPlanner::for_objective(chain, model, context)),
        layer_level(chain, unit_recompute_costs(chain, model, context)) {}
  // The finished plan of `schedule`, its step time predicted.
  Plan plan_of(const BudgetSchedule& schedule) const {
    Plan plan = build_schedule(chain, model, context, schedule.calls, "budget", "");
    predict_step_time(plan, KernelTimer(profile_of(context), "test"));
    return plan;
  }
  double predicted_ms(const BudgetSchedule& schedule) const { return plan_of(schedule).predicted_step_ms; }
};

}  // namespace

TEST_CASE("op-level budget equals an exhaustive search of the op-level space, GELU and tanh+dropout") {
  std::mt19937_64 rng(1717);
  const Tally t = tally(
      30,
      [&](int trial) {
        const std::size_t layers = 2 + trial % 5;  // 2..6 units
        const bool equal = trial % 4 < 2;
        if (trial % 5 < 3) return make_test_chain(rng, layers, equal, Activation::gelu);
        TestChain c = make_test_chain(rng, layers, equal, Activation::tanh);
        c.model.dropout = 0.25;
        c.chain = build_chain(c.model);
        c.label += ", dropout";
        return c;
      },
      [&](const TestChain& c) {
        return check_against_every_schedule(c, rng, Objective::time, BudgetMemory::activations, true);
      });
  MESSAGE("op-level DP == exhaustive least predicted time on " << t.chains << " chains (2-6 units), " << t.budgets
                                                              << " budgets; " << t.work << " schedules predicted");
}

TEST_CASE("op-level budget: the lattice's hulls over derived parts agree with the recursive solver on long equal chains") {
  for (Activation activation : {Activation::gelu, Activation::tanh}) {
    ModelSpec model = wide_gelu(40, 48, 20);  // footprints that round up to 256 bytes
    model.activation = activation;
    model.dropout = activation == Activation::tanh ? 0.5 : 0;
    const Chain chain = build_chain(model);
    BudgetPlanner planner = BudgetPlanner::for_objective(chain, model, StepContext{});
    const std::size_t low = planner.min_activation_peak();
    const std::size_t high = make_plan(model, StepContext{}, parse_plan("none")).activation_peak_bytes;
    std::size_t with_derives = 0;
    for (int i = 0; i <= 24; ++i) {
      const std::size_t budget = low + (high - low) * i / 24;
      CAPTURE(budget);
      const BudgetSchedule lattice = *planner.solve(budget, BudgetSolver::lattice);
      const BudgetSchedule recursive = *planner.solve(budget, BudgetSolver::recursive);
      CHECK(lattice.cost == recursive.cost);
      with_derives += count_derives(lattice.calls) > 0;
    }
    CHECK(with_derives > 12);
  }
}

TEST_CASE("op-level space: the enumerator inserts derives, and the DP's plans use them where they pay") {
  std::mt19937_64 rng(1818);
  const TestChain c = make_test_chain(rng, 5, true, Activation::gelu);
  ExhaustiveSearch search(c);
  std::size_t with_derives = 0, all = 0;
  search.enumerate_all(
      [&](const Plan& plan) {
        ++all;
        for (const Op& op : plan.ops)
          if (op.kind == OpKind::derive) {
            ++with_derives;
            break;
          }
      },
      true);
  CHECK(with_derives > 0);
  CHECK(with_derives < all);
  // Under FLOPs there are no derive costs: the planner's space stays layer-level.
  StepContext flops;
  flops.objective = Objective::flops;
  CHECK(unit_derive_costs(c.chain, c.model, flops).empty());
}

TEST_CASE("op-level budget: at sqrtn's peak no slower than the layer-level plan, faster on GELU chains") {
  for (std::size_t hidden : {8, 15, 24}) {
    CAPTURE(hidden);
    TwoSpaces spaces(wide_gelu(hidden, 256, 64));
    const Plan sqrtn = make_plan(spaces.model, spaces.context, parse_plan("sqrtn"));
    const std::size_t budget = sqrtn.activation_peak_bytes;
    const BudgetSchedule op = *spaces.op_level.solve(budget);
    const BudgetSchedule layer = *spaces.layer_level.solve(budget);
    CHECK(count_derives(op.calls) > 0);
    CHECK(op.cost < layer.cost);
    const double op_ms = spaces.predicted_ms(op), layer_ms = spaces.predicted_ms(layer);
    CHECK(op_ms < layer_ms);
    CHECK(op_ms <= sqrtn.predicted_step_ms);
    // The plan's peak and predicted time are the DP's figures.
    const Plan plan = spaces.plan_of(op);
    const Plan none = make_plan(spaces.model, spaces.context, parse_plan("none"));
    CHECK(plan.activation_peak_bytes == op.activation_peak_bytes);
    CHECK(plan.activation_peak_bytes <= budget);
    const double dp_ms = none.predicted_step_ms + static_cast<double>(op.cost) / kPicosecondsPerMs;
    CHECK(plan.predicted_step_ms == doctest::Approx(dp_ms).epsilon(1e-9));
  }
}

TEST_CASE("op-level budget: within 2% of none's predicted time with at least 40% less activation memory (16 x 1024 GELU)") {
  TwoSpaces spaces(wide_gelu(15, 1024, 256));  // 16 units
  const Plan none = make_plan(spaces.model, spaces.context, parse_plan("none"));
  // The smallest budget whose plan is within 2% of none's time: the cost falls as the budget rises.
  const double allowed_ps = 0.02 * none.predicted_step_ms * kPicosecondsPerMs;
  std::size_t low = spaces.op_level.min_activation_peak(), high = none.activation_peak_bytes;
  while (low < high) {
    const std::size_t mid = low + (high - low) / 2;
    if (static_cast<double>(spaces.op_level.solve(mid)->cost) <= allowed_ps) high = mid;
    else low = mid + 1;
  }
  const BudgetSchedule schedule = *spaces.op_level.solve(low);
  const Plan plan = spaces.plan_of(schedule);
  MESSAGE("smallest budget within 2% of none: activation peak " << plan.activation_peak_bytes << " B of none's "
                                                                << none.activation_peak_bytes << " B, "
                                                                << plan.predicted_step_ms << " ms against "
                                                                << none.predicted_step_ms << " ms");
  CHECK(plan.predicted_step_ms <= 1.02 * none.predicted_step_ms);
  CHECK(static_cast<double>(plan.activation_peak_bytes) <= 0.6 * static_cast<double>(none.activation_peak_bytes));
}

TEST_CASE("op-level budget: --objective flops plans have no derives, time plans on GELU do") {
  const ModelSpec model = wide_gelu(15, 256, 64);
  StepContext flops;
  flops.objective = Objective::flops;
  const Plan sqrtn = make_plan(model, StepContext{}, parse_plan("sqrtn"));
  const std::string budget = "budget:" + std::to_string(sqrtn.activation_peak_bytes);
  auto derives = [](const Plan& plan) {
    std::size_t count = 0;
    for (const Op& op : plan.ops) count += op.kind == OpKind::derive;
    return count;
  };
  CHECK(derives(make_plan(model, flops, parse_plan(budget))) == 0);
  CHECK(derives(make_plan(model, StepContext{}, parse_plan(budget))) > 0);
}
