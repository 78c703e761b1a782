// Drop-and-re-derive (planner/budget.h, 6.): a checkpoint dropped across the part of a step that
// holds the most and re-made from an earlier one before its next window. The dynamic program
// against every schedule of its space (tests/nested_search.h), each built and measured; the
// enumeration itself against the window search where both apply; where drops pay.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "planner/budget.h"
#include "tests/exhaustive_search.h"
#include "tests/nested_search.h"

using namespace egc;
using namespace egc::testing;

namespace {

// Every schedule of the nested enumeration, built and measured under `objective`.
std::vector<Point> nested_points(const TestChain& c, const PlanObjective& objective) {
  NestedSearch search(c.chain, objective.op_level, objective.drops);
  std::vector<Point> points;
  for (const std::vector<ScheduleCall>& calls : search.all()) {
    const Plan plan = build_schedule(c.chain, c.model, objective.context, calls, "nested", "", Offsets::skip);
    points.push_back({objective.peak_of(plan), objective.cost_of(plan)});
  }
  return points;
}

TestChain drop_test_chain(std::mt19937_64& rng, int trial) {
  const std::size_t layers = 2 + trial % 4;  // 2..5 units
  const bool equal = trial % 3 == 0;
  if (trial % 4 == 3) return make_block_chain(rng, layers - 1);
  TestChain c = make_test_chain(rng, layers, equal, trial % 2 ? Activation::gelu : Activation::relu);
  if (trial % 5 == 4) {
    c.model.activation = Activation::tanh;
    c.model.dropout = 0.25;
    c.chain = build_chain(c.model);
    c.label += ", tanh, dropout";
  }
  return c;
}

}  // namespace

TEST_CASE("the nested enumeration of the budget space has the window search's frontier (no drops)") {
  std::mt19937_64 rng(2401);
  for (int trial = 0; trial < 16; ++trial) {
    const TestChain c = drop_test_chain(rng, trial);
    INFO(c.label);
    const bool op_level = trial % 2 == 1;
    const PlanObjective objective(c, op_level ? Objective::time : Objective::flops, BudgetMemory::activations, op_level);
    std::vector<Point> windows;
    ExhaustiveSearch(c).enumerate_all(
        [&](const Plan& plan) { windows.push_back({objective.peak_of(plan), objective.cost_of(plan)}); }, op_level);
    const std::vector<Point> expected = frontier(windows), found = frontier(nested_points(c, objective));
    REQUIRE(found.size() == expected.size());
    for (std::size_t i = 0; i < found.size(); ++i) {
      CHECK(found[i].peak == expected[i].peak);
      CHECK(objective.same(found[i].cost, expected[i].cost));
    }
  }
}

// Checks the drop-space planner of `c` against every schedule of the space; counts the frontier
// points where the space without drops (enumerated the same way) costs more.
struct DropTally {
  std::size_t chains = 0, budgets = 0, schedules = 0, cheaper = 0, points = 0;
  void check(const TestChain& c, std::mt19937_64& rng, Objective which, BudgetMemory memory) {
    const bool op_level = which == Objective::time;
    const PlanObjective objective(c, which, memory, op_level, true);
    const std::vector<Point> with_drops = nested_points(c, objective);
    budgets += check_against_frontier(c, rng, objective, with_drops);
    schedules += with_drops.size();
    ++chains;
    const std::vector<Point> without = frontier(nested_points(c, PlanObjective(c, which, memory, op_level, false)));
    for (const Point& p : frontier(with_drops)) {
      ++points;
      const std::size_t other = cost_within(without, p.peak);  // kNone: below the smallest peak without drops
      CHECK((other == kNone || other + objective.tolerance >= p.cost));
      if (other == kNone || (!objective.same(other, p.cost) && other > p.cost)) ++cheaper;
    }
  }
};

TEST_CASE("drops: budget equals an exhaustive search of the drop space, both objectives, gradients counted or not") {
  std::mt19937_64 rng(2402);
  DropTally small;
  for (int trial = 0; trial < 24; ++trial) {
    const TestChain c = drop_test_chain(rng, trial);
    INFO(c.label);
    small.check(c, rng, trial % 2 ? Objective::time : Objective::flops,
                trial % 3 == 2 ? BudgetMemory::activations_and_gradients : BudgetMemory::activations);
  }
  // Drops pay from six units on, on unequal widths: six such chains, drawn until the planner
  // finds a budget where they do; the search then confirms it by measurement.
  DropTally six;
  for (int trial = 0; six.chains < 6 && trial < 200; ++trial) {
    const TestChain c = make_test_chain(rng, 6, false, trial % 2 ? Activation::gelu : Activation::relu);
    const Objective which = six.chains % 2 ? Objective::time : Objective::flops;
    const bool op_level = which == Objective::time;  // as DropTally::check plans it
    const PlanObjective objective(c, which, BudgetMemory::activations, op_level, true);
    BudgetPlanner with = objective.planner(c);
    BudgetPlanner without = PlanObjective(c, which, BudgetMemory::activations, op_level, false).planner(c);
    bool pays = false;
    for (int i = 0; i <= 40 && !pays; ++i) {
      const std::size_t budget = without.min_activation_peak() * (40 + i) / 40;
      const std::size_t a = with.solve(budget)->cost, b = without.solve(budget)->cost;
      pays = a < b && !objective.same(a, b);
    }
    if (!pays) continue;
    INFO(c.label);
    six.check(c, rng, which, BudgetMemory::activations);
  }
  CHECK(small.chains == 24);
  CHECK(six.chains == 6);
  CHECK(six.cheaper >= six.chains);  // the search confirms each
  MESSAGE("drop-space DP == exhaustive on " << small.chains << " chains of 2-5 units (" << small.budgets
                                            << " budgets, " << small.schedules << " schedules measured; drops cheaper at "
                                            << small.cheaper << " of " << small.points << " frontier points) and "
                                            << six.chains << " of 6 units (" << six.budgets << " budgets, "
                                            << six.schedules << " schedules; cheaper at " << six.cheaper << " of "
                                            << six.points << ")");
}

TEST_CASE("drops: never costlier than the space without them, cheaper at some budgets of unequal chains") {
  std::mt19937_64 rng(2403);
  std::size_t points = 0, cheaper = 0, lower_peaks = 0;
  double largest_saving = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const TestChain c = make_test_chain(rng, 6 + trial % 10, trial % 3 == 0, trial % 2 ? Activation::gelu : Activation::relu);
    INFO(c.label);
    for (Objective which : {Objective::flops, Objective::time}) {
      const bool op_level = which == Objective::time;
      const PlanObjective with(c, which, BudgetMemory::activations, op_level, true);
      BudgetPlanner drops = with.planner(c);
      BudgetPlanner persistent = PlanObjective(c, which, BudgetMemory::activations, op_level, false).planner(c);
      CHECK(drops.min_activation_peak() <= persistent.min_activation_peak());  // dropping can lower it
      lower_peaks += drops.min_activation_peak() < persistent.min_activation_peak();
      for (int i = 0; i <= 40; ++i) {
        const std::size_t budget = persistent.min_activation_peak() * (40 + 2 * i) / 40;
        const BudgetSchedule schedule = *drops.solve(budget);
        const std::size_t a = schedule.cost, b = persistent.solve(budget)->cost;
        CHECK(a <= b + with.tolerance);
        ++points;
        if (!with.same(a, b) && a < b) {
          ++cheaper;
          // Outside the persistent space: some checkpoint is dropped before its layer's backward.
          CHECK(build_schedule(c.chain, c.model, with.context, schedule.calls, "drops", "").dropped_checkpoints > 0);
          largest_saving = std::max(largest_saving, 1.0 - static_cast<double>(a) / static_cast<double>(b));
        }
      }
    }
  }
  CHECK(cheaper > 0);
  MESSAGE("6-15 units: drops cheaper at " << cheaper << " of " << points << " budgets (min peak to 3x), saving up to "
                                          << 100 * largest_saving << "% of the recomputation; a lower smallest peak on "
                                          << lower_peaks << " of 80 chains and objectives");
}
