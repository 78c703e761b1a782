// Offloading plans on the CPU backend and the simulated device: the same step bitwise as none,
// and the device arena and the host arena exactly as planned, op by op.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "planner/copy_ops.h"
#include "planner/make_plan.h"
#include "planner/op_kernels.h"
#include "runtime/copy_events.h"
#include "runtime/cpu_backend.h"
#include "runtime/forwarding_backend.h"
#include "runtime/memory_report.h"
#include "runtime/simulated_device.h"
#include "runtime_fixtures.h"

using namespace egc;
using egc::testing::random_model;
using egc::testing::train_for;

namespace {

// `base`'s segmented schedule (its checkpoints) again, with the checkpoints and the final
// segment's layers (all but the last) offloaded.
Plan with_kept_layers_offloaded(const Plan& base) {
  const std::size_t n = base.chain.size();
  const std::size_t final_start = base.checkpoints.empty() ? 0 : base.checkpoints.back() + 1;
  std::vector<std::size_t> offloaded = base.checkpoints;
  for (std::size_t layer = final_start; layer + 1 < n; ++layer) offloaded.push_back(layer);
  return build_schedule(base.chain, base.model, base.context,
                        with_offloads(segmented_calls(base.chain, base.checkpoints), n, offloaded), base.name + "+offload",
                        "test: kept layers offloaded");
}

void check_offloaded_run(const egc::testing::TrainedRun& run, const egc::testing::TrainedRun& reference,
                         AllocMode alloc) {
  CHECK(run.parameters == reference.parameters);  // bitwise: float == on every element
  CHECK(run.losses == reference.losses);
  CHECK(memory_verdict(run.plan, run.measured, 1).ok());
  if (alloc == AllocMode::arena) {
    REQUIRE(run.measured.arena_bytes.has_value());
    CHECK(*run.measured.arena_bytes == run.plan.arena_bytes);
    CHECK(run.measured.host_peak_bytes == run.plan.host_arena_bytes);
    return;
  }
  REQUIRE(!run.measured.timeline.empty());
  for (const MemorySample& sample : run.measured.timeline) {
    INFO("op " << sample.op << (sample.after ? " after" : " before"));
    CHECK(sample.bytes == run.plan.live_bytes[sample.op]);
    CHECK(sample.host_bytes == run.plan.host_live_bytes[sample.op]);
  }
}

}  // namespace

TEST_CASE("offloading plans train bitwise like none, in exactly the planned device and host memory") {
  std::mt19937_64 rng(14);
  std::size_t offloading = 0;
  for (int trial = 0; trial < 16; ++trial) {
    ModelSpec model = random_model(rng);
    if (trial % 4 == 0) {  // residual blocks: their tape (pre-activation, LayerNorm statistics) moves too
      model.block = BlockKind::residual;
      model.norm = Norm::layernorm;
      model.activation = Activation::gelu;
      model.hidden_widths.assign(1 + trial % 3, 6);
    }
    TrainSettings settings;
    settings.seed = rng();
    settings.accumulate = 1 + rng() % 3;
    const std::string plan = trial % 2 ? "sqrtn" : "none";
    INFO("trial " << trial << ": " << model.hidden_widths.size() + 1 << " units, " << plan << ", accumulate "
                  << settings.accumulate);
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 4);
    for (AllocMode alloc : {AllocMode::arena, AllocMode::per_buffer}) {
      settings.alloc = alloc;
      CpuBackend run_backend;
      const auto run = train_for(run_backend, model, plan, settings, 4, 512, with_kept_layers_offloaded);
      if (run.plan.host_arena_bytes > 0) ++offloading;
      check_offloaded_run(run, reference, alloc);
    }
  }
  CHECK(offloading > 16);
}

TEST_CASE("sim: the device-side verdict passes with an offloading plan, and the device holds less") {
  ModelSpec model;
  model.hidden_widths.assign(12, 512);
  model.batch = 256;
  TrainSettings settings;
  settings.seed = 5;
  for (AllocMode alloc : {AllocMode::arena, AllocMode::per_buffer}) {
    settings.alloc = alloc;
    SimulatedBackend none_device{SimulatedDeviceOptions{}};
    const auto none = train_for(none_device, model, "none", settings, 2, 512);
    SimulatedBackend device{SimulatedDeviceOptions{}};
    const auto run = train_for(device, model, "none", settings, 2, 512, with_kept_layers_offloaded);
    INFO(to_string(alloc) << "\n" << format_verdict(memory_verdict(run.plan, run.measured, device.memory().granularity())));
    CHECK(run.parameters == none.parameters);
    REQUIRE(run.measured.baseline_free_bytes.has_value());  // measured as cudaMemGetInfo shows it
    CHECK(memory_verdict(run.plan, run.measured, device.memory().granularity()).ok());
    CHECK(run.measured.peak_bytes < none.measured.peak_bytes);
    CHECK(run.measured.host_peak_bytes > 0);
  }
}

namespace {

// Records the copy stream's calls with the op they were made in (set through the executor's hook).
class CopyRecorder final : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  struct Call {
    std::size_t op;
    bool wait;  // wait_copy, else copy_async
    std::size_t ticket;
    std::size_t bytes = 0;
    CopyDirection direction = CopyDirection::to_host;
  };
  std::vector<Call> calls;
  std::size_t op = 0;
  void copy_async(std::size_t ticket, void* destination, const void* source, std::size_t bytes,
                  CopyDirection direction) override {
    calls.push_back({op, false, ticket, bytes, direction});
    ForwardingBackend::copy_async(ticket, destination, source, bytes, direction);
  }
  void wait_copy(std::size_t ticket) override {
    calls.push_back({op, true, ticket});
    ForwardingBackend::wait_copy(ticket);
  }
};

}  // namespace

TEST_CASE("the executor makes each copy in its op and waits for it in the op the plan names") {
  ModelSpec model;
  model.hidden_widths.assign(6, 16);
  model.batch = 8;
  CpuBackend cpu;
  CopyRecorder recorder(cpu);
  Dataset data = make_synthetic_for(model, 64, 0.1, 1);
  split_dataset(data, 0.125, 1);
  const Plan plan = with_kept_layers_offloaded(plan_run(model, data, recorder, parse_plan("none")));
  Trainer trainer(plan, recorder, data, TrainSettings{});
  trainer.initialize_parameters();
  trainer.executor().set_hook([&](std::size_t op, bool after) {
    if (!after) recorder.op = op;
  });
  trainer.train_step();
  std::size_t copies = 0;
  for (const CopyRecorder::Call& call : recorder.calls) {
    const Op& copy = plan.ops.at(call.ticket);
    REQUIRE(is_copy(copy.kind));
    if (call.wait) {
      CHECK(call.op == copy.waited_by_op);
    } else {
      CHECK(call.op == call.ticket);
      // The time model prices exactly this copy (planner/op_kernels.h).
      const std::vector<KernelCall> kernels = op_kernels(plan, call.ticket, plan.chain.batch);
      REQUIRE(kernels.size() == 1);
      CHECK(kernels[0].units == call.bytes);
      CHECK(kernels[0].kind ==
            (call.direction == CopyDirection::to_host ? KernelKind::copy_to_host : KernelKind::copy_to_device));
      CHECK((call.direction == CopyDirection::to_host) == (copy.kind == OpKind::offload));
      ++copies;
    }
  }
  CHECK(copies == 2 * (plan.chain.size() - 1));
  CHECK(recorder.calls.size() == 2 * copies);  // every copy is waited for once
  // Evaluation runs the forward pass without the copies, and waits for none (the CUDA backend
  // refuses a wait for a copy never made).
  recorder.calls.clear();
  REQUIRE(trainer.evaluate(false).has_value());
  CHECK(recorder.calls.empty());
}

TEST_CASE("ticket events: one per ticket, reused, all destroyed, and a wait for a copy never made is refused") {
  int created = 0;
  std::vector<int> destroyed;
  {
    auto create = [&] { return ++created; };
    auto destroy = [&](int event) { destroyed.push_back(event); };
    TicketEvents<int, decltype(create), decltype(destroy)> events(create, destroy);
    CHECK(events.for_copy(7) == 1);
    CHECK(events.for_copy(3) == 2);
    CHECK(events.for_copy(7) == 1);
    CHECK(events.for_wait(3) == 2);
    CHECK_THROWS_AS(events.for_wait(4), std::logic_error);
    CHECK(events.size() == 2);
  }
  std::sort(destroyed.begin(), destroyed.end());
  CHECK(destroyed == std::vector<int>{1, 2});
}
