// Offloading plans (planner/copy_ops.h): where offload and prefetch ops go, the events that
// order them against compute, both arenas' layouts, and the report's host arena.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "planner/chain.h"
#include "planner/copy_ops.h"
#include "planner/report.h"
#include "planner/schedule.h"
#include "planner/step_time.h"
#include "plan_checks.h"

using namespace egc;
using egc::testing::equal_model;

namespace {

// none with the first-pass outputs of `offloaded` moved to the host and back.
Plan offloading_none(const ModelSpec& model, const std::vector<std::size_t>& offloaded) {
  const Chain chain = build_chain(model);
  const std::vector<ScheduleCall> calls =
      with_offloads(segmented_calls(chain, none_checkpoints(chain.size())), chain.size(), offloaded);
  return build_schedule(chain, model, StepContext{}, calls, "none+offload", "test");
}

std::vector<std::size_t> all_but_last(std::size_t layers) {
  std::vector<std::size_t> result;
  for (std::size_t layer = 0; layer + 1 < layers; ++layer) result.push_back(layer);
  return result;
}

std::string kinds(const Plan& plan) {
  std::string text;
  for (const Op& op : plan.ops) text += std::string(to_string(op.kind)) + (op.layer < 0 ? "" : std::to_string(op.layer)) + " ";
  return text;
}

}  // namespace

TEST_CASE("offload goes after the next layer's forward and prefetch one compute op before its first reader") {
  const ModelSpec model = equal_model(2, 64, 16);  // 3 layers: 0, 1 hidden, 2 the output
  const Plan plan = offloading_none(model, {0});
  CHECK(kinds(plan) == "forward0 forward1 offload0 forward2 loss prefetch0 backward2 update2 backward1 update1 "
                       "backward0 update0 ");
  const Op& offload = plan.ops[2];
  CHECK(offload.wait_for_op == 1);  // after forward1, its last reader
  CHECK(offload.waited_by_op == 4);  // overlaps forward2; the loss waits
  CHECK(plan.buffers[offload.input].last_op == 3);  // the device copy lives until the waiting op
  CHECK(plan.buffers[offload.output].host);
  const Op& prefetch = plan.ops[5];
  CHECK(prefetch.wait_for_op == 4);
  CHECK(prefetch.waited_by_op == 8);  // backward1 reads layer 0's output as its input
  CHECK(plan.buffers[prefetch.input].first_op == 2);
  CHECK(plan.buffers[prefetch.input].last_op == 5);
  CHECK(plan.buffers[prefetch.output].first_op == 5);
  CHECK(plan.host_arena_bytes == plan.buffers[offload.output].footprint);
  CHECK(plan.checkpoints == std::vector<std::size_t>{0, 1});
  egc::testing::check_plan_invariants(plan);
}

TEST_CASE("offloading every kept output lowers the device peak and plans the host arena") {
  for (Activation activation : {Activation::relu, Activation::gelu}) {
    ModelSpec model = equal_model(16, 128, 32);
    model.activation = activation;
    const Chain chain = build_chain(model);
    const Plan none = build_segmented_schedule(chain, model, StepContext{}, none_checkpoints(chain.size()), "none", "");
    const Plan offloaded = offloading_none(model, all_but_last(chain.size()));
    INFO(to_string(activation));
    egc::testing::check_plan_invariants(offloaded);
    CHECK(offloaded.activation_peak_bytes < none.activation_peak_bytes / 2);
    CHECK(offloaded.host_arena_bytes > 0);
    CHECK(offloaded.host_arena_bytes == *std::max_element(offloaded.host_live_bytes.begin(), offloaded.host_live_bytes.end()));
    CHECK(none.host_arena_bytes == 0);
    // GELU layers keep their pre-activation as well: two copies each way per layer.
    const std::size_t per_layer = activation == Activation::gelu ? 2 : 1;
    const auto count = [&](OpKind kind) {
      return static_cast<std::size_t>(std::count_if(offloaded.ops.begin(), offloaded.ops.end(),
                                                    [&](const Op& op) { return op.kind == kind; }));
    };
    CHECK(count(OpKind::offload) == per_layer * (chain.size() - 1));
    CHECK(count(OpKind::prefetch) == per_layer * (chain.size() - 1));
    for (std::size_t i = 0; i < offloaded.ops.size(); ++i) {
      const Op& op = offloaded.ops[i];
      if (!is_copy(op.kind)) continue;
      INFO("op " << i);
      CHECK(op.wait_for_op < i);
      CHECK(!is_copy(offloaded.ops[op.wait_for_op].kind));
      if (op.kind == OpKind::prefetch) {
        REQUIRE(op.waited_by_op != kNoOp);
        const std::vector<BufferId>& reads = offloaded.ops[op.waited_by_op].reads;
        CHECK(std::find(reads.begin(), reads.end(), op.output) != reads.end());
      }
    }
  }
}

TEST_CASE("a tensor that is away cannot be read and an empty offload is refused") {
  const ModelSpec model = equal_model(2, 64, 16);
  const Chain chain = build_chain(model);
  ScheduleBuilder builder(chain, model, StepContext{});
  builder.forward(0, OpKind::forward, true);
  builder.offload(0);
  CHECK_THROWS_AS(builder.forward(1, OpKind::forward, true), std::logic_error);
  CHECK_THROWS_AS(builder.prefetch(1), std::logic_error);
  builder.prefetch(0);
  CHECK_NOTHROW(builder.forward(1, OpKind::forward, true));
  CHECK_THROWS_AS(with_offloads(segmented_calls(chain, none_checkpoints(3)), 3, {2}), std::logic_error);
  // sqrtn recomputes layer 0 of its first segment: that output is not offloadable.
  CHECK_THROWS_AS(with_offloads(segmented_calls(build_chain(equal_model(8, 64, 16)), sqrtn_checkpoints(9)), 9, {0}),
                  std::logic_error);
}

TEST_CASE("the schedule and the JSON report show the host arena and the copy events") {
  const Plan plan = offloading_none(equal_model(2, 64, 16), {0});
  const std::string text = format_schedule(plan, ScheduleDetail::full);
  CHECK(text.find("host arena") != std::string::npos);
  CHECK(text.find("act.0 -> host.act.0; after op 1, before op 4") != std::string::npos);
  CHECK(text.find("host.act.0 -> act.0.r1; after op 4, before op 8") != std::string::npos);
  const nlohmann::json json = plan_to_json(plan);
  CHECK(json["host_arena_bytes"] == plan.host_arena_bytes);
  CHECK(json["ops"][2]["kind"] == "offload");
  CHECK(json["ops"][2]["waited_by_op"] == 4);
  CHECK(json["ops"][0]["host_live_bytes"] == 0);
  CHECK(format_schedule(offloading_none(equal_model(2, 64, 16), {}), ScheduleDetail::summary).find("host arena") ==
        std::string::npos);
}

TEST_CASE("two streams: a copy the overlapping compute covers costs nothing, a longer one stalls its waiter") {
  Plan plan = offloading_none(equal_model(2, 64, 16), {0});
  // f0 f1 offload0 f2 loss prefetch0 b2 u2 b1 u1 b0 u0: ten compute ops of 1 ms each.
  auto with_copies_of = [&](double copy_ms) {
    for (Op& op : plan.ops) op.predicted_ms = is_copy(op.kind) ? copy_ms : 1.0;
    return simulate_streams(plan, plan.ops.size(), 0.0);
  };
  const StreamTimeline hidden = with_copies_of(0.5);
  CHECK(hidden.compute_ms == 10.0);
  CHECK(hidden.copy_ms == 1.0);
  CHECK(hidden.stall_ms == 0.0);
  // The offload runs 2-5 ms: the loss (waiting for it) starts at 5 instead of 3. The prefetch
  // starts after the loss, 6-9 ms: backward1 starts at 9 instead of 8.
  const StreamTimeline exposed = with_copies_of(3.0);
  CHECK(exposed.compute_ms == 13.0);
  CHECK(exposed.copy_ms == 6.0);
  CHECK(exposed.stall_ms == 3.0);
  // A copy nothing waits for still ends the micro-batch.
  plan.ops[2].waited_by_op = kNoOp;
  plan.ops[5].waited_by_op = kNoOp;
  CHECK(with_copies_of(20.0).compute_ms == 2.0 + 20.0 + 20.0);
}

TEST_CASE("the predicted step time of an offloading plan counts only the exposed copies") {
  const ModelSpec model = equal_model(8, 1024, 256);
  const Chain chain = build_chain(model);
  Plan none = build_segmented_schedule(chain, model, StepContext{}, none_checkpoints(chain.size()), "none", "");
  Plan offloaded = offloading_none(model, all_but_last(chain.size()));
  const KernelTimer timer(default_cpu_profile(), "--profile");
  predict_step_time(none, timer);
  predict_step_time(offloaded, timer);
  CHECK(none.predicted_copy_ms == 0.0);
  CHECK(none.predicted_stall_ms == 0.0);
  CHECK(offloaded.predicted_copy_ms > 0.0);
  CHECK(offloaded.predicted_step_ms == doctest::Approx(none.predicted_step_ms + offloaded.predicted_stall_ms));
  CHECK(offloaded.predicted_step_ms <= none.predicted_step_ms + offloaded.predicted_copy_ms + 1e-9);
}
