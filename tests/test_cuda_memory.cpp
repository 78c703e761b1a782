// The memory proof on a device (the GPU, or in CI the simulated device): the allocation
// granularity G measured through free memory; in arena mode the arena as the device rounds it and
// nothing allocated after it; in per-buffer mode (an allocation per buffer) the transient peak
// within the planned range (runtime/memory_report.h); for none, sqrtn, every:3 and a budget plan
// on two models whose activations are whole granules. An allocation planted inside a step fails
// the verdict.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "planner/units.h"
#include "runtime/allocation_granularity.h"
#include "runtime/dataset.h"
#include "runtime/memory_report.h"
#include "runtime/session.h"
#include "tests/cuda_test_support.h"

namespace egc::test {
namespace {

// Tall and narrow, so that the simulated device's CPU math stays quick: every activation and
// activation gradient is batch x width floats = 2 MiB (8 MiB), whole granules at G = 2 MiB; the
// per-layer parameter gradients are small (a few KiB), which a device may serve from a chunk it
// holds, so the planned range is as wide as one granule per small buffer alive at once.
struct Size {
  std::size_t layers, width, batch;
  const char* budget;  // a budget plan between the smallest feasible peak and none's
};
constexpr Size kSizes[] = {{8, 32, 16384, "budget:14MiB"}, {16, 16, 131072, "budget:60MiB"}};
constexpr std::size_t kSteps = 3, kSampledSteps = 2;

ModelSpec spec_of(const Size& size) {
  ModelSpec spec;
  spec.in_features = spec.out_features = size.width;
  spec.hidden_widths = std::vector<std::size_t>(size.layers, size.width);
  spec.batch = size.batch;
  spec.activation = Activation::relu;
  spec.optimizer = Optimizer::sgd;
  return spec;
}

// Two batches of training rows and no evaluation rows.
Dataset data_of(const ModelSpec& spec) {
  Dataset data = make_synthetic_for(spec, 2 * spec.batch, 0.1, 1);
  split_dataset(data, 0.0, 1);
  return data;
}

struct Run {
  Plan plan;
  MeasuredMemory measured;
  std::size_t free_after_setup = 0, free_after_steps = 0;
  std::size_t allocations_after_setup = 0, allocations_after_steps = 0;
};

// `plant` (may be empty) is the executor's hook during the steps.
Run measure(Backend& backend, const ModelSpec& spec, const Dataset& data, const std::string& plan_name, AllocMode alloc,
            const Executor::OpHook& plant = {}) {
  Run run{plan_for(spec, data, backend, plan_name), {}, 0, 0, 0, 0};
  TrainSettings settings;
  settings.alloc = alloc;
  Session session(run.plan, backend, data, settings);
  run.free_after_setup = *backend.device_free_bytes();
  run.allocations_after_setup = backend.allocated_bytes();
  session.trainer().executor().set_hook(plant);
  run.measured = session.train(kSteps, kSampledSteps).memory;
  backend.synchronize();
  run.free_after_steps = *backend.device_free_bytes();
  run.allocations_after_steps = backend.allocated_bytes();
  return run;
}

std::string describe(const Size& size, const std::string& plan) {
  return std::to_string(size.layers) + " x " + std::to_string(size.width) + ", batch " + std::to_string(size.batch) +
         ", plan " + plan;
}

void check_verdict(const Run& run, std::size_t g, const std::string& name) {
  const MemoryVerdict verdict = memory_verdict(run.plan, run.measured, g);
  MESSAGE(name << ", " << to_string(run.measured.alloc) << ": " << format_verdict(verdict));
  for (const MemoryCheck& check : verdict.checks) {
    INFO(name << ": " << check.what << " planned [" << check.planned.low << ", " << check.planned.high
              << "] B, measured " << (check.measured ? std::to_string(*check.measured) : "-"));
    CHECK(check.ok());
  }
}

// Runs every model size x plan in `alloc` mode on one device and hands each run, the granularity
// and a description of the case to `check`.
template <class Check>
void for_each_run(AllocMode alloc, Check check) {
  const std::unique_ptr<Backend> device = make_device_under_test();
  for (const Size& size : kSizes) {
    const ModelSpec spec = spec_of(size);
    const Dataset data = data_of(spec);
    for (const std::string plan_name : {"none", "sqrtn", "every:3", size.budget}) {
      const Plan plan = plan_for(spec, data, *device, plan_name);
      const std::optional<AllocationGranularity> g =
          measure_allocation_granularity(*device, {alloc == AllocMode::arena ? plan.arena_bytes : plan.live_peak_bytes});
      REQUIRE(g.has_value());
      check(measure(*device, spec, data, plan_name, alloc), g->granularity, describe(size, plan_name));
    }
  }
}

}  // namespace

TEST_CASE("allocation granularity: every probe is returned, and G is what the device rounds to") {
  const std::unique_ptr<Backend> device = make_device_under_test();
  const std::optional<AllocationGranularity> measured = measure_allocation_granularity(*device, {100 << 20});
  REQUIRE(measured.has_value());
  MESSAGE("allocation granularity: " << measured->summary());
  REQUIRE(measured->probes.size() == 3);  // 2 MiB + 1 B, 64 MiB + 1 B, 100 MiB
  for (const AllocationProbe& probe : measured->probes) {
    CHECK(probe.returned);
    CHECK(probe.free_drop >= probe.requested);
    CHECK(probe.free_drop - probe.requested < measured->granularity);
  }
  CHECK(measured->granularity >= 1);
  CHECK(measured->granularity <= std::size_t{64} << 20);
  if (testing_simulated_device()) CHECK(measured->granularity == std::size_t{2} << 20);
}

TEST_CASE("arena: measured as the device rounds the plan's arena, and nothing is allocated after it") {
  for_each_run(AllocMode::arena, [](const Run& run, std::size_t g, const std::string& name) {
    check_verdict(run, g, name);
    // Nothing allocated after the arena: free memory is unchanged after the steps, and the
    // backend handed out nothing more.
    CHECK(run.free_after_steps == run.free_after_setup);
    CHECK(run.allocations_after_steps == run.allocations_after_setup);
  });
}

TEST_CASE("per-buffer: the measured transient peak lies in the planned range") {
  for_each_run(AllocMode::per_buffer, [](const Run& run, std::size_t g, const std::string& name) {
    check_verdict(run, g, name);
    const ByteRange planned = planned_transient_peak(run.plan, g);
    // The activations are whole granules: only the small parameter gradients (one or two alive at
    // once) make a range.
    CHECK(planned.high - planned.low <= 2 * g);
  });
}

TEST_CASE("an allocation planted inside a step fails the verdict, in both allocation modes") {
  const std::unique_ptr<Backend> device = make_device_under_test();
  const ModelSpec spec = spec_of(kSizes[0]);
  const Dataset data = data_of(spec);
  const std::size_t g = measure_allocation_granularity(*device)->granularity;
  // 3 granules held across the op where the most is alive, in every step: more than the planned
  // range is wide (at most 2 granules, above).
  const std::vector<std::size_t> live = plan_for(spec, data, *device, "sqrtn").live_bytes;
  const std::size_t busiest = static_cast<std::size_t>(std::max_element(live.begin(), live.end()) - live.begin());
  for (const AllocMode alloc : {AllocMode::arena, AllocMode::per_buffer}) {
    Backend& backend = *device;
    void* planted = nullptr;
    const Executor::OpHook plant = [&](std::size_t op, bool after) {
      if (op != busiest) return;
      if (!after) planted = backend.allocate(3 * g);
      if (after) backend.release(planted);
    };
    const Run run = measure(*device, spec, data, "sqrtn", alloc, plant);
    const MemoryVerdict verdict = memory_verdict(run.plan, run.measured, g);
    INFO(to_string(alloc) << ": " << format_verdict(verdict));
    CHECK_FALSE(verdict.ok());
    CHECK(run.measured.transient_peak_bytes >= 3 * g);
  }
}

}  // namespace egc::test
