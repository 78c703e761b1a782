// Budget plans on residual block chains and on plain chains with dropout: the dynamic program
// against the exhaustive search of the schedule space (tests/exhaustive_search.h), and against
// sqrtn at sqrtn's own peak.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "planner/budget.h"
#include "planner/make_plan.h"
#include "tests/exhaustive_search.h"

using namespace egc;
using namespace egc::testing;  // the exhaustive search and its test chains

TEST_CASE("residual blocks and dropout: budget equals an exhaustive search of all schedules") {
  std::mt19937_64 rng(2112);
  const Tally t = tally(
      24,
      [&](int trial) {
        // Blocks (units: projection, 1-5 blocks, head), then plain chains with dropout, whose tanh
        // layers keep their pre-activation (their output is scaled) and relu layers their output.
        if (trial < 18) return make_block_chain(rng, 1 + trial % 5);
        TestChain c = make_test_chain(rng, 2 + trial % 5, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
        c.model.dropout = 0.25;
        c.chain = build_chain(c.model);
        c.label += ", dropout";
        return c;
      },
      [&](const TestChain& c) { return check_against_every_schedule(c, rng); });
  MESSAGE("dynamic program == exhaustive optimum on " << t.chains << " block and dropout chains (3-7 units), "
                                                    << t.budgets << " budgets; " << t.work
                                                    << " schedules built and measured");
}

TEST_CASE("residual blocks: budget equals a branch-and-bound exhaustive search for 8 and 9 units") {
  std::mt19937_64 rng(1606);
  const Tally t = tally(4, [&](int trial) { return make_block_chain(rng, 6 + trial % 2); }, check_against_branch_and_bound);
  MESSAGE("dynamic program == branch-and-bound optimum on " << t.chains << " residual chains (8-9 units), "
                                                         << t.budgets << " budgets; " << t.work
                                                         << " partial schedules built");
}

TEST_CASE("residual blocks: at sqrtn's own activation peak, budget recomputes no more than sqrtn") {
  std::mt19937_64 rng(4243);
  std::size_t strictly_less = 0;
  for (int trial = 0; trial < 30; ++trial) {
    const TestChain c = make_block_chain(rng, 1 + rng() % 40);
    INFO(c.label);
    const Plan sqrtn = make_plan(c.model, StepContext{}, parse_plan("sqrtn"));
    BudgetPlanner planner(c.chain);
    const std::size_t cost = solve_and_check(planner, c, sqrtn.activation_peak_bytes);
    REQUIRE(cost != kNone);
    CHECK(cost <= sqrtn.recompute_flops);
    strictly_less += cost < sqrtn.recompute_flops;
  }
  MESSAGE("residual blocks at sqrtn's peak: budget <= sqrtn on 30 chains, strictly less on " << strictly_less);
}

