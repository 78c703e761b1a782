// A run's owner and its verdict: the session's set-up order, the planned-versus-measured checks
// and their tolerances, and the test set-up that turns a logged error into a failure.
#include <doctest/doctest.h>

#include <spdlog/spdlog.h>

#include "planner/make_plan.h"
#include <algorithm>
#include <vector>

#include "runtime/cpu_backend.h"
#include "runtime/forwarding_backend.h"
#include "planner/gemm_shapes.h"
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

TEST_CASE("device bytes: a granule or more rounds up exactly, less may take a whole chunk or nothing") {
  CHECK(device_bytes(1000, 1).low == 1000);
  CHECK(device_bytes(1000, 1).high == 1000);
  CHECK(device_bytes(2 * kMiB, 2 * kMiB).low == 2 * kMiB);
  CHECK(device_bytes(2 * kMiB + 1, 2 * kMiB).low == 4 * kMiB);
  CHECK(device_bytes(2 * kMiB + 1, 2 * kMiB).high == 4 * kMiB);
  CHECK(device_bytes(256, 2 * kMiB).low == 0);
  CHECK(device_bytes(256, 2 * kMiB).high == 2 * kMiB);
}

TEST_CASE("memory verdict: exact on the host - on a device, the arena as rounded and nothing after set-up") {
  Plan plan;
  plan.arena_bytes = 10 * kMiB + 256;
  plan.activation_peak_bytes = 4 * kMiB;
  MeasuredMemory host;
  host.alloc = AllocMode::arena;
  host.arena_bytes = plan.arena_bytes;
  CHECK(memory_verdict(plan, host, 1).ok());
  host.arena_bytes = plan.arena_bytes + 1;
  CHECK_FALSE(memory_verdict(plan, host, 1).ok());  // the host counts bytes: exact
  MeasuredMemory device = host;
  device.baseline_free_bytes = 40 * kMiB;
  device.arena_bytes = 12 * kMiB;  // 10 MiB + 256 B in 2 MiB granules
  CHECK(memory_verdict(plan, device, 2 * kMiB).ok());
  device.arena_bytes = 14 * kMiB;  // a granule more than the rounding explains
  CHECK_FALSE(memory_verdict(plan, device, 2 * kMiB).ok());
  device.arena_bytes = 12 * kMiB;
  device.transient_peak_bytes = 2 * kMiB;  // something was allocated during the steps
  const MemoryVerdict verdict = memory_verdict(plan, device, 2 * kMiB);
  CHECK_FALSE(verdict.ok());
  REQUIRE(verdict.checks.size() == 2);
  CHECK(verdict.checks[1].what == "transient peak");
  CHECK_FALSE(verdict.checks[1].ok());
  CHECK(format_verdict(verdict).find("memory verdict: FAIL") == 0);
}

TEST_CASE("planned transient peak: the short-lived buffers alive together, each as the device shows it") {
  CpuBackend cpu;
  Dataset data = make_synthetic(256, 1, 1, 0.1, 3);
  split_dataset(data, 0.25, 3);
  const Plan plan = plan_run(small_model(), data, cpu, parse_plan("none"));
  // On the host (granularity 1): exactly the live bytes less the persistent ones, at the worst op.
  std::size_t persistent = 0;
  for (const Buffer& buffer : plan.buffers)
    if (buffer.persistent) persistent += buffer.footprint;
  const ByteRange exact = planned_transient_peak(plan, 1);
  CHECK(exact.low == exact.high);
  CHECK(exact.low == plan.live_peak_bytes - persistent);
  // Every buffer of this model is below 2 MiB: a device may hold them in chunks it has (0) or
  // give each a chunk of its own.
  const ByteRange device = planned_transient_peak(plan, 2 * kMiB);
  CHECK(device.low == 0);
  CHECK(device.high % (2 * kMiB) == 0);
  CHECK(device.high >= exact.low);
}

// Records the shape of every GEMM it is asked for.
class GemmRecorder final : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
            const float* b, float beta, float* c) override {
    shapes.push_back({transpose_a, transpose_b, m, n, k});
    ForwardingBackend::gemm(transpose_a, transpose_b, m, n, k, a, b, beta, c);
  }
  std::vector<GemmShape> shapes;
};

TEST_CASE("the GEMM shapes a step multiplies are the ones the warm-up runs (step_gemm_shapes)") {
  CpuBackend cpu;
  GemmRecorder recorder(cpu);
  ModelSpec model;
  model.in_features = 3;
  model.hidden_widths = {5, 7, 7};
  model.out_features = 2;
  model.batch = 16;
  Dataset data = make_synthetic(64, 3, 2, 0.1, 3);
  split_dataset(data, 0.0, 3);
  for (const char* plan_name : {"none", "sqrtn"}) {
    const Plan plan = plan_run(model, data, recorder, parse_plan(plan_name));
    Session session(plan, recorder, data, TrainSettings{});
    recorder.shapes.clear();
    session.train(2, 0);
    std::vector<GemmShape> seen = recorder.shapes;
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    INFO(plan_name);
    CHECK(seen == step_gemm_shapes(plan.chain));
    CHECK(seen.size() == 4 * 2 + 3);  // forward and dW of 4 layers, dX of all but layer 0
  }
}

// tests/log_checks.h: an error logged inside a test fails it. This case passes only by failing.
TEST_CASE("an error logged through spdlog fails the test that logged it" * doctest::should_fail()) {
  spdlog::error("a planted error (this test expects to fail)");
}
