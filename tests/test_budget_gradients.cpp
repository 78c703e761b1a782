// Budgets on activations and parameter gradients together (BudgetMemory::activations_and_gradients,
// what --plan auto fits to the arena with per-layer updates): the dynamic program against an
// exhaustive search of the schedule space, both objectives; auto's arena against --max-memory.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "planner/auto_plan.h"
#include "planner/budget.h"
#include "planner/make_plan.h"
#include "tests/exhaustive_search.h"

using namespace egc;
using namespace egc::testing;  // the exhaustive search and its test chains

TEST_CASE("gradients counted: budget equals an exhaustive search of all schedules, both objectives") {
  std::mt19937_64 rng(2626);
  const Tally t = tally(
      24,
      [&](int trial) {
        if (trial >= 18) return make_block_chain(rng, 1 + trial % 4);
        return make_test_chain(rng, 2 + trial % 6, trial % 3 != 0, static_cast<Activation>(1 + trial % 3));
      },
      [&](const TestChain& c) {
        const auto by_flops =
            check_against_every_schedule(c, rng, Objective::flops, BudgetMemory::activations_and_gradients);
        const auto by_time = check_against_every_schedule(c, rng, Objective::time, BudgetMemory::activations_and_gradients);
        return std::make_pair(by_flops.first + by_time.first, by_flops.second + by_time.second);
      });
  MESSAGE("with gradients counted, DP == exhaustive optimum on " << t.chains << " chains, " << t.budgets
                                                                << " budgets; " << t.work << " schedules measured");
}

TEST_CASE("gradients counted: the op-level budget (auto's, under --objective time) equals an exhaustive search") {
  std::mt19937_64 rng(2727);
  const Tally t = tally(
      16, [&](int trial) { return make_test_chain(rng, 2 + trial % 4, trial % 2 == 0, Activation::gelu); },
      [&](const TestChain& c) {
        return check_against_every_schedule(c, rng, Objective::time, BudgetMemory::activations_and_gradients, true);
      });
  MESSAGE("op-level, gradients counted: DP == exhaustive least predicted time on " << t.chains << " GELU chains (2-5 units), "
                                                                                  << t.budgets << " budgets; " << t.work
                                                                                  << " schedules predicted");
}

namespace {

// auto within `limit` bytes for `model` (per-layer updates, no resident data).
Plan auto_within(const ModelSpec& model, std::size_t limit, Objective objective) {
  StepContext context;
  context.memory_limit_bytes = limit;
  context.memory_limit_source = MemoryLimitSource::user;
  context.objective = objective;
  return make_plan(model, context, parse_plan("auto"));
}

}  // namespace

TEST_CASE("auto plans against the whole arena: within 1% below --max-memory where none does not fit") {
  struct Case {
    std::size_t layers, width;
    Activation activation;
  };
  for (const Case& m : {Case{48, 256, Activation::relu}, Case{32, 384, Activation::gelu}, Case{64, 128, Activation::tanh}}) {
    ModelSpec model;
    model.hidden_widths.assign(m.layers, m.width);
    model.activation = m.activation;
    model.batch = 256;
    const Plan none = make_plan(model, StepContext{}, parse_plan("none"));
    std::size_t persistent = 0;
    for (const Buffer& buffer : none.buffers)
      if (buffer.persistent) persistent += buffer.footprint;
    for (Objective objective : {Objective::time, Objective::flops}) {
      // Limits that leave 30% to 85% of none's non-persistent bytes.
      for (double fraction : {0.3, 0.55, 0.85}) {
        const std::size_t limit =
            persistent + static_cast<std::size_t>(fraction * static_cast<double>(none.arena_bytes - persistent));
        CAPTURE(m.layers);
        CAPTURE(fraction);
        const Plan plan = auto_within(model, limit, objective);
        CHECK(plan.arena_bytes <= limit);
        CHECK(static_cast<double>(plan.arena_bytes) >= 0.99 * static_cast<double>(limit));
        CHECK(plan.recompute_flops > 0);
      }
    }
  }
}

TEST_CASE("auto under --objective time plans op-level on a GELU chain, no slower than the layer-level plan") {
  ModelSpec model;
  model.hidden_widths.assign(32, 384);
  model.activation = Activation::gelu;
  model.batch = 256;
  const Plan none = make_plan(model, StepContext{}, parse_plan("none"));
  std::size_t persistent = 0;
  for (const Buffer& buffer : none.buffers)
    if (buffer.persistent) persistent += buffer.footprint;
  for (double fraction : {0.55, 0.85}) {
    CAPTURE(fraction);
    const std::size_t limit =
        persistent + static_cast<std::size_t>(fraction * static_cast<double>(none.arena_bytes - persistent));
    const Plan op_level = auto_within(model, limit, Objective::time);
    const Plan layer_level = auto_within(model, limit, Objective::flops);
    CHECK(op_level.derived_outputs > 0);
    CHECK(layer_level.derived_outputs == 0);
    CHECK(op_level.arena_bytes <= limit);
    CHECK(static_cast<double>(op_level.arena_bytes) >= 0.99 * static_cast<double>(limit));
    CHECK(op_level.predicted_step_ms < layer_level.predicted_step_ms);
    CHECK(op_level.description.find("re-derives") != std::string::npos);
  }
}
