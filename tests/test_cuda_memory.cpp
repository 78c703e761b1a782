// The memory proof on the GPU: the allocation granularity G measured on the device; the arena
// as measured by cudaMemGetInfo equals the plan's arena within G, and nothing is allocated after
// it; in per-buffer mode (cudaMalloc/cudaFree per buffer) the measured activation peak equals
// the planned one within G. For none and sqrtn, on two model sizes.
#include <doctest/doctest.h>

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

// Every activation buffer is batch x width floats = a whole number of 2 MiB pages (in = out =
// width too), so per-buffer cudaMallocs round nothing up and G bounds the whole difference.
struct Size {
  std::size_t layers, width, batch;
};
constexpr Size kSizes[] = {{8, 1024, 512}, {16, 2048, 1024}};  // 2 MiB and 8 MiB activations

ModelSpec spec_of(const Size& size) {
  ModelSpec spec;
  spec.in_features = spec.out_features = size.width;
  spec.hidden_widths = std::vector<std::size_t>(size.layers, size.width);
  spec.batch = size.batch;
  spec.activation = Activation::relu;
  spec.optimizer = Optimizer::sgd;
  return spec;
}

std::size_t granularity_of(Backend& backend) {
  const std::optional<AllocationGranularity> measured = measure_allocation_granularity(backend);
  REQUIRE(measured.has_value());
  MESSAGE("allocation granularity: " << measured->summary());
  return measured->granularity;
}

struct Run {
  Plan plan;
  MeasuredSteps steps;
  std::size_t free_after_setup = 0, free_after_steps = 0;
  std::size_t allocations_after_setup = 0, allocations_after_steps = 0;
};

Run measure(Backend& backend, const ModelSpec& spec, const Dataset& data, const std::string& plan_name, AllocMode alloc) {
  Run run{plan_for(spec, data, backend, plan_name), {}, 0, 0, 0, 0};
  TrainSettings settings;
  settings.alloc = alloc;
  Session session(run.plan, backend, data, settings);
  run.free_after_setup = *backend.device_free_bytes();
  run.allocations_after_setup = backend.allocated_bytes();
  run.steps = session.train(/*steps=*/5, /*sampled_steps=*/2);
  backend.synchronize();
  run.free_after_steps = *backend.device_free_bytes();
  run.allocations_after_steps = backend.allocated_bytes();
  return run;
}

std::string describe(const Size& size, const std::string& plan) {
  return std::to_string(size.layers) + " x " + std::to_string(size.width) + ", batch " + std::to_string(size.batch) +
         ", plan " + plan;
}

}  // namespace

TEST_CASE("allocation granularity: every probe allocation is returned, G is a sane size") {
  const std::unique_ptr<Backend> gpu = make_cuda();
  const std::optional<AllocationGranularity> measured = measure_allocation_granularity(*gpu);
  REQUIRE(measured.has_value());
  MESSAGE("allocation granularity: " << measured->summary());
  for (const AllocationProbe& probe : measured->probes) {
    CHECK(probe.returned);
    CHECK(probe.free_drop >= probe.requested);
  }
  CHECK(measured->granularity >= 1);
  CHECK(measured->granularity <= std::size_t{64} << 20);
}

// Runs every model size x {none, sqrtn} in `alloc` mode on one backend and hands each run, the
// granularity and a description of the case to `check`.
template <class Check>
void for_each_run(AllocMode alloc, Check check) {
  const std::unique_ptr<Backend> gpu = make_cuda();
  const std::size_t g = granularity_of(*gpu);
  for (const Size& size : kSizes) {
    const ModelSpec spec = spec_of(size);
    const Dataset data = make_synthetic(2 * size.batch, spec.in_features, spec.out_features, 0.1, 1);
    for (const std::string plan_name : {"none", "sqrtn"})
      check(measure(*gpu, spec, data, plan_name, alloc), g, describe(size, plan_name));
  }
}

TEST_CASE("arena: measured equals planned within the granularity, and nothing is allocated after it") {
  for_each_run(AllocMode::arena, [](const Run& run, std::size_t g, const std::string& name) {
    const MeasuredMemory& m = run.steps.memory;
    REQUIRE(m.arena_bytes.has_value());
    MESSAGE(name << ": planned arena " << run.plan.arena_bytes << " B (" << format_bytes(run.plan.arena_bytes)
                 << "), measured " << *m.arena_bytes << " B, peak during steps " << m.peak_bytes << " B, "
                 << m.samples << " samples, G " << g << " B");
    for (const MemoryCheck& check : memory_verdict(run.plan, m, g).checks) {
      INFO(check.what << ": planned " << check.planned << " B");
      CHECK(check.ok());
    }
    // Nothing allocated after the arena: the steps never went below the post-setup free
    // memory, free memory is unchanged after them, and the backend handed out nothing more.
    CHECK(m.peak_bytes == *m.arena_bytes);
    CHECK(run.free_after_steps == run.free_after_setup);
    CHECK(run.allocations_after_steps == run.allocations_after_setup);
  });
}

TEST_CASE("per-buffer: the measured activation peak equals the planned one within the granularity") {
  for_each_run(AllocMode::per_buffer, [](const Run& run, std::size_t g, const std::string& name) {
    const MeasuredMemory& m = run.steps.memory;
    REQUIRE(m.activation_peak_bytes.has_value());
    const std::size_t planned = run.plan.activation_peak_bytes, measured = *m.activation_peak_bytes;
    MESSAGE(name << ": planned activation peak " << planned << " B (" << format_bytes(planned) << "), measured "
                 << measured << " B, " << m.samples << " samples, G " << g << " B");
    for (const MemoryCheck& check : memory_verdict(run.plan, m, g).checks) {
      INFO(check.what << ": planned " << check.planned << " B");
      CHECK(check.ok());
    }
  });
}

}  // namespace egc::test
