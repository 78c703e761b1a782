// A run's owner and its verdict: the session's set-up order, the planned-versus-measured checks
// and their tolerances, and the test set-up that turns a logged error into a failure.
#include <doctest/doctest.h>

#include <spdlog/spdlog.h>

#include "planner/make_plan.h"
#include "runtime/cpu_backend.h"
#include "runtime/memory_report.h"
#include "runtime/session.h"

using namespace egc;

namespace {

ModelSpec small_model() {
  ModelSpec model;
  model.hidden_widths = {8, 8, 8};
  model.batch = 16;
  return model;
}

constexpr std::size_t kMiB = std::size_t{1} << 20;

}  // namespace

TEST_CASE("session: the meter's baseline precedes the step memory, so the set-up level is the arena") {
  CpuBackend cpu;
  Dataset data = make_synthetic(256, 1, 1, 0.1, 3);
  split_dataset(data, 0.25, 3);
  const Plan plan = plan_run(small_model(), data, cpu, parse_plan("sqrtn"));
  CHECK(plan.context.dataset_rows == 256);
  CHECK(plan.context.memory_limit_source == MemoryLimitSource::none);  // the host reports no free memory
  Session session(plan, cpu, data, TrainSettings{});
  const MeasuredSteps run = session.train(3, 1);
  CHECK(run.losses.size() == 3);
  REQUIRE(run.memory.arena_bytes.has_value());
  CHECK(*run.memory.arena_bytes == plan.arena_bytes);
  CHECK(run.memory.peak_bytes == plan.arena_bytes);
  CHECK(memory_verdict(plan, run.memory, 1).ok());
  // The first step was sampled around each of its ops.
  CHECK(run.memory.timeline.size() == 2 * plan.ops.size());
}

TEST_CASE("step context: --max-memory is the limit as given") {
  CpuBackend cpu;
  Dataset data = make_synthetic(64, 1, 1, 0.1, 3);
  RunOptions options;
  options.max_memory = 5 * kMiB;
  options.single_update = true;
  const StepContext context = step_context(small_model(), data, cpu, options);
  CHECK(context.memory_limit_source == MemoryLimitSource::user);
  CHECK(context.memory_limit_bytes == 5 * kMiB);
  CHECK(context.single_update);
  CHECK(context.dataset_rows == 64);
}

TEST_CASE("memory verdict: exact on the host, within the granularity on a device") {
  Plan plan;
  plan.arena_bytes = 10 * kMiB + 256;
  plan.activation_peak_bytes = 4 * kMiB;
  MeasuredMemory arena;
  arena.alloc = AllocMode::arena;
  arena.arena_bytes = plan.arena_bytes;
  CHECK(memory_verdict(plan, arena, 1).ok());
  arena.arena_bytes = plan.arena_bytes + 1;
  CHECK_FALSE(memory_verdict(plan, arena, 1).ok());         // the host counts bytes: exact
  CHECK(memory_verdict(plan, arena, 2 * kMiB).ok());        // a device rounds up
  arena.arena_bytes = plan.arena_bytes + 2 * kMiB;
  CHECK_FALSE(memory_verdict(plan, arena, 2 * kMiB).ok());  // a whole granule more was allocated
  arena.arena_bytes = plan.arena_bytes - 1;
  CHECK_FALSE(memory_verdict(plan, arena, 2 * kMiB).ok());  // less than planned: the plan is wrong
  MeasuredMemory per_buffer;
  per_buffer.alloc = AllocMode::per_buffer;
  per_buffer.activation_peak_bytes = plan.activation_peak_bytes;
  const MemoryVerdict verdict = memory_verdict(plan, per_buffer, 1);
  REQUIRE(verdict.checks.size() == 1);
  CHECK(verdict.checks[0].what == "activation peak");
  CHECK(verdict.ok());
  per_buffer.activation_peak_bytes = plan.activation_peak_bytes - 256;
  CHECK_FALSE(memory_verdict(plan, per_buffer, 1).ok());
  CHECK(memory_verdict(plan, per_buffer, 2 * kMiB).ok());
}

// tests/log_checks.h: an error logged inside a test fails it. This case passes only by failing.
TEST_CASE("an error logged through spdlog fails the test that logged it" * doctest::should_fail()) {
  spdlog::error("a planted error (this test expects to fail)");
}
