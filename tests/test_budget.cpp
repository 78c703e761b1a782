// Budget plans: the dynamic program against an exhaustive search of the schedule space (every
// schedule built with ScheduleBuilder and measured; tests/exhaustive_search.h), against sqrtn at
// sqrtn's own peak, and the infeasible-budget error; chen-greedy plans pass the plan invariants.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "planner/auto_plan.h"
#include "planner/budget.h"
#include "planner/chen_greedy.h"
#include "planner/errors.h"
#include "planner/lower_hull.h"
#include "planner/make_plan.h"
#include "planner/units.h"
#include "plan_checks.h"
#include "tests/exhaustive_search.h"

using namespace egc;
using namespace egc::testing;  // the exhaustive search and its test chains

TEST_CASE("budget equals an exhaustive search of all schedules (n <= 7: every schedule)") {
  std::mt19937_64 rng(6061);
  const Tally t = tally(
      36,
      [&](int trial) {
        const std::size_t layers = trial < 30 ? 1 + trial % 6 : 7;
        return make_test_chain(rng, layers, trial % 4 < 2, static_cast<Activation>(1 + trial % 3));
      },
      [&](const TestChain& c) { return check_against_every_schedule(c, rng); });
  MESSAGE("dynamic program == exhaustive optimum on " << t.chains << " chains (1-7 layers), " << t.budgets
                                                    << " budgets; " << t.work << " schedules built and measured");
}

TEST_CASE("budget equals a branch-and-bound exhaustive search for 8 to 10 layers") {
  std::mt19937_64 rng(1911);
  const Tally t = tally(
      9,
      [&](int trial) {
        return make_test_chain(rng, 8 + trial % 3, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
      },
      check_against_branch_and_bound);
  MESSAGE("dynamic program == branch-and-bound optimum on " << t.chains << " chains (8-10 layers), " << t.budgets
                                                         << " budgets; " << t.work << " partial schedules built");
}

TEST_CASE("at sqrtn's own activation peak, budget recomputes no more than sqrtn") {
  std::mt19937_64 rng(4242);
  std::size_t chains[2] = {0, 0}, strictly_less[2] = {0, 0};  // [equal widths, unequal widths]
  double saved_points[2] = {0, 0}, largest = 0;
  std::string largest_label;
  for (int trial = 0; trial < 120; ++trial) {
    const std::size_t layers = trial % 10 == 0 ? 100 + rng() % 200 : 2 + rng() % 60;
    const bool equal = trial % 2 == 0;
    const TestChain c = make_test_chain(rng, layers, equal, static_cast<Activation>(1 + trial % 3));
    INFO(c.label);
    const Plan sqrtn = make_plan(c.model, StepContext{}, parse_plan("sqrtn"));
    BudgetPlanner planner(c.chain);
    const std::size_t cost = solve_and_check(planner, c, sqrtn.activation_peak_bytes);
    REQUIRE(cost != kNone);
    CHECK(cost <= sqrtn.recompute_flops);
    ++chains[equal ? 0 : 1];
    if (cost < sqrtn.recompute_flops) {
      // Saved recomputation in percentage points of one forward pass.
      const double points = 100.0 * static_cast<double>(sqrtn.recompute_flops - cost) / sqrtn.forward_flops;
      ++strictly_less[equal ? 0 : 1];
      saved_points[equal ? 0 : 1] += points;
      if (layers >= 20 && points > largest) {
        largest = points;
        largest_label = c.label;
      }
    }
  }
  // README.md's figures ("What the tests establish"): the chains are seeded, so the counts are
  // exact (60 of each kind by construction); averages and the largest to the whole point it states.
  const struct { std::size_t strictly_less; long average; } expected[2] = {{8, 11}, {55, 20}};
  for (int kind : {0, 1}) {
    const double average = strictly_less[kind] ? saved_points[kind] / strictly_less[kind] : 0.0;
    CHECK(strictly_less[kind] == expected[kind].strictly_less);
    CHECK(std::lround(average) == expected[kind].average);
    MESSAGE("at sqrtn's peak, " << std::string(kind == 0 ? "equal" : "unequal") << " widths: budget <= sqrtn on all "
                                << chains[kind] << " chains, strictly less on " << strictly_less[kind]
                                << ", saving on average " << average << " points of a forward pass where it does");
  }
  CHECK(std::lround(largest) == 36);  // over chains of 20 layers or more; shorter ones save up to 70
  MESSAGE("largest saving on a chain of 20 layers or more: " << largest << " points (" << largest_label << ")");
}

TEST_CASE("figures: budget against sqrtn at sqrtn's peak for equal chains") {
  for (std::size_t hidden : {15, 63, 255}) {
    ModelSpec model;
    model.hidden_widths.assign(hidden, 512);
    model.batch = 256;
    const Chain chain = build_chain(model);
    const Plan sqrtn = make_plan(model, StepContext{}, parse_plan("sqrtn"));
    BudgetPlanner planner(chain);
    const std::optional<BudgetSchedule> schedule = planner.solve(sqrtn.activation_peak_bytes);
    REQUIRE(schedule);
    CHECK(schedule->recompute_flops <= sqrtn.recompute_flops);
    MESSAGE((hidden + 1) << " layers: at sqrtn's peak " << format_bytes(sqrtn.activation_peak_bytes) << ", sqrtn recomputes "
                       << 100.0 * sqrtn.recompute_flops / sqrtn.forward_flops << "% of a forward pass, budget "
                       << 100.0 * schedule->recompute_flops / sqrtn.forward_flops << "% (peak "
                       << format_bytes(schedule->activation_peak_bytes) << "); smallest feasible "
                       << format_bytes(planner.min_activation_peak()));
  }
}

TEST_CASE("an infeasible budget is a UsageError stating the smallest feasible budget") {
  ModelSpec model;
  model.hidden_widths.assign(6, 64);
  const Chain chain = build_chain(model);
  const std::size_t smallest = BudgetPlanner(chain).min_activation_peak();
  const PlanSpec spec = parse_plan("budget:" + std::to_string(smallest - 1));
  try {
    make_plan(model, StepContext{}, spec);
    FAIL("accepted");
  } catch (const UsageError& e) {
    const std::string message = e.what();
    CHECK(message.rfind("--plan budget:", 0) == 0);
    CHECK(message.find("smallest feasible activation peak") != std::string::npos);
    CHECK(message.find(std::to_string(smallest) + " B") != std::string::npos);
    CHECK(message.find(format_bytes(smallest)) != std::string::npos);
  }
  const Plan plan = make_plan(model, StepContext{}, parse_plan("budget:" + std::to_string(smallest)));
  CHECK(plan.activation_peak_bytes == smallest);
  egc::testing::check_plan_invariants(plan);
}

TEST_CASE("a planner reused across budgets answers as fresh ones do") {
  std::mt19937_64 rng(77);
  for (int trial = 0; trial < 6; ++trial) {
    const TestChain c = make_test_chain(rng, 30 + rng() % 40, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
    INFO(c.label);
    BudgetPlanner shared(c.chain);
    const std::size_t low = shared.min_activation_peak();
    const std::size_t high = make_plan(c.model, StepContext{}, parse_plan("none")).activation_peak_bytes;
    std::vector<std::size_t> budgets;
    for (int i = 0; i < 12; ++i) budgets.push_back(low + (high - low) * (rng() % 1000) / 999);
    for (std::size_t budget : budgets) {
      BudgetPlanner fresh(c.chain);
      const auto a = shared.solve(budget), b = fresh.solve(budget);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(a->recompute_flops == b->recompute_flops);
      CHECK(a->activation_peak_bytes == b->activation_peak_bytes);
    }
    // Enough memory for everything: nothing is recomputed.
    CHECK(shared.solve(high)->recompute_flops == 0);
  }
}

TEST_CASE("chen-greedy: Algorithm 3's choices, its search, and plans that pass the invariants") {
  ModelSpec model;
  model.hidden_widths.assign(9, 64);
  model.batch = 1;  // every output (64 floats, or 1) is one 256-byte unit
  const Chain chain = build_chain(model);
  // b = 0 keeps every hidden output; b >= everything keeps none; b = 2 units keeps every third.
  CHECK(chen_greedy_checkpoints(chain, 0).checkpoints.size() == 9);
  CHECK(chen_greedy_checkpoints(chain, 1u << 30).checkpoints.empty());
  const GreedyCheckpoints third = chen_greedy_checkpoints(chain, 2 * 256);
  CHECK(third.checkpoints == std::vector<std::size_t>{2, 5, 8});
  CHECK(third.stored_bytes == 3 * 256);
  CHECK(third.largest_stage_bytes == 3 * 256);
  model.activation = Activation::gelu;  // a GELU layer also keeps its pre-activation: 2 units
  CHECK(chen_greedy_checkpoints(build_chain(model), 2 * 256).checkpoints == std::vector<std::size_t>{1, 3, 5, 7});

  std::mt19937_64 rng(1604);
  for (int trial = 0; trial < 40; ++trial) {
    const TestChain c = make_test_chain(rng, 2 + rng() % 50, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
    INFO(c.label);
    const std::vector<GreedyCandidate> runs = chen_search(c.chain, c.model, StepContext{});
    CHECK(runs.size() >= 3);
    CHECK(runs.size() <= 9);
    CHECK(runs.front().greedy.threshold == 0);
    const Plan chosen = make_plan(c.model, StepContext{}, parse_plan("chen-greedy"));
    egc::testing::check_plan_invariants(chosen);
    for (const GreedyCandidate& run : runs) CHECK(chosen.activation_peak_bytes <= run.activation_peak_bytes);
    // Within its own peak, the best greedy plan is at least as cheap; the budget plan cheaper still.
    const std::string size = std::to_string(chosen.activation_peak_bytes);
    const Plan within = make_plan(c.model, StepContext{}, parse_plan("chen-greedy:" + size));
    egc::testing::check_plan_invariants(within);
    CHECK(within.activation_peak_bytes <= chosen.activation_peak_bytes);
    CHECK(within.recompute_flops <= chosen.recompute_flops);
    const Plan budget = make_plan(c.model, StepContext{}, parse_plan("budget:" + size));
    CHECK(budget.recompute_flops <= within.recompute_flops);
  }
  ModelSpec small;
  small.hidden_widths.assign(4, 16);
  CHECK_THROWS_AS(make_plan(small, StepContext{}, parse_plan("chen-greedy:1")), UsageError);
}

TEST_CASE("auto: the fastest plan whose arena fits the limit, and why") {
  ModelSpec model;
  model.hidden_widths.assign(40, 256);
  model.batch = 64;
  StepContext context;
  context.dataset_rows = 1000;
  const Plan none = make_plan(model, context, parse_plan("none"));

  CHECK_THROWS_AS(make_plan(model, context, parse_plan("auto")), UsageError);  // no limit given

  context.memory_limit_source = MemoryLimitSource::user;
  context.memory_limit_bytes = none.arena_bytes;
  const Plan roomy = make_plan(model, context, parse_plan("auto"));
  CHECK(roomy.recompute_flops == 0);
  CHECK(roomy.description.find("none fits") != std::string::npos);

  context.memory_limit_bytes = none.arena_bytes - 1;
  const Plan tight = make_plan(model, context, parse_plan("auto"));
  egc::testing::check_plan_invariants(tight);
  CHECK(tight.arena_bytes <= context.memory_limit_bytes);
  CHECK(tight.recompute_flops > 0);
  CHECK(tight.description.find("none needs " + format_bytes(none.arena_bytes)) != std::string::npos);
  // The least recomputation within the limit: the budget plan for the activation room left.
  const std::size_t persistent = none.arena_bytes - none.activation_peak_bytes;
  const Plan budget = make_plan(model, StepContext{1000, 0, 0, MemoryLimitSource::none, false, 1, nullptr},
                                parse_plan("budget:" + std::to_string(context.memory_limit_bytes - persistent)));
  CHECK(tight.recompute_flops == budget.recompute_flops);

  context.memory_limit_bytes = persistent;  // no room for activations at all
  try {
    make_plan(model, context, parse_plan("auto"));
    FAIL("accepted");
  } catch (const UsageError& e) {
    const std::string message = e.what();
    CHECK(message.rfind("--plan auto", 0) == 0);
    CHECK(message.find(std::to_string(persistent) + " B available") != std::string::npos);
    CHECK(message.find("smallest arena needs") != std::string::npos);
  }

  // A device's free memory keeps a margin of max(256 MiB, 5%); --max-memory none.
  StepContext device;
  device.memory_limit_source = MemoryLimitSource::device;
  device.memory_limit_bytes = std::size_t{8} << 30;
  CHECK(memory_margin(device) == (std::size_t{8} << 30) / 100 * 5);
  device.memory_limit_bytes = std::size_t{1} << 30;
  CHECK(memory_margin(device) == std::size_t{256} << 20);
  CHECK(memory_margin(context) == 0);

  // --max-memory with a fixed plan: rejected when its arena does not fit.
  context.memory_limit_bytes = none.arena_bytes - 1;
  CHECK_THROWS_AS(make_plan(model, context, parse_plan("none")), UsageError);
  CHECK_NOTHROW(make_plan(model, context, parse_plan("sqrtn")));
}

TEST_CASE("LowerHull: exact at its vertices, below every point, convex") {
  std::mt19937_64 rng(15);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::size_t> y;
    LowerHull hull;
    for (std::size_t x = 1; x <= 60; ++x) {
      y.push_back(rng() % 2 ? x * x * 1000 + rng() % 5000 : (std::size_t{1} << 62) + rng() % 100000);
      hull.append(x, y.back());
    }
    CHECK(hull.lowest() == 1);
    CHECK(hull.highest() == 60);
    for (std::size_t x = 1; x <= 60; ++x) {
      CHECK(!below(hull.at(x), 0));
      CHECK(!(Fraction{static_cast<Wide>(y[x - 1]), 1} < hull.at(x)));  // at or below the point
    }
    CHECK(hull.at(1).num == static_cast<Wide>(y[0]) * hull.at(1).den);  // the ends are vertices
    for (std::size_t x = 2; x < 60; ++x) {  // second differences are not negative
      const Fraction mid = add(hull.at(x), hull.at(x));
      CHECK(!(add(hull.at(x - 1), hull.at(x + 1)) < mid));
    }
  }
}
