// Op-level recomputation in the planner: the derive op's buffers and lifetimes, the builder's
// refusals, with_derived_outputs (never more memory, less on GELU chains), "+derive" plans, their
// report and their predicted time.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/op_kernels.h"
#include "planner/report.h"
#include "planner/units.h"
#include "plan_checks.h"

using namespace egc;
using egc::testing::buffer_named;
using egc::testing::equal_model;

namespace {


std::size_t count_kind(const Plan& plan, OpKind kind) {
  std::size_t count = 0;
  for (const Op& op : plan.ops) count += op.kind == kind;
  return count;
}

ModelSpec gelu_model(std::size_t hidden, std::size_t width, std::size_t batch) {
  ModelSpec model = equal_model(hidden, width, batch);
  model.activation = Activation::gelu;
  return model;
}

}  // namespace

TEST_CASE("a derive op reads the kept pre-activation and makes a new output instance, the forward's dies early") {
  const Plan plan = make_plan(gelu_model(3, 8, 4), StepContext{}, parse_plan("none+derive"));
  egc::testing::check_plan_invariants(plan);
  // forward 0..3, loss, then derive(k-1) before each backward(k) that reads it.
  const OpKind f = OpKind::forward, d = OpKind::derive, b = OpKind::backward;
  const std::vector<std::pair<OpKind, int>> expected{{f, 0}, {f, 1}, {f, 2}, {f, 3}, {OpKind::loss, -1}, {d, 2},
                                                     {b, 3}, {OpKind::update, 3}, {d, 1}, {b, 2}, {OpKind::update, 2},
                                                     {d, 0}, {b, 1}, {OpKind::update, 1}, {b, 0}, {OpKind::update, 0}};
  REQUIRE(plan.ops.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(plan.ops[i].kind == expected[i].first);
    CHECK(plan.ops[i].layer == expected[i].second);
  }
  for (std::size_t layer = 0; layer < 3; ++layer) {
    CAPTURE(layer);
    const std::string k = std::to_string(layer);
    // The forward's instance is read by the next forward only.
    CHECK(buffer_named(plan, "act." + k).last_op == layer + 1);
    const Buffer& derived = buffer_named(plan, "act." + k + ".r1");
    const Op& derive = plan.ops[derived.first_op];
    CHECK(derive.kind == OpKind::derive);
    CHECK(derive.input == static_cast<BufferId>(&buffer_named(plan, "pre." + k) - plan.buffers.data()));
    CHECK(derive.reads == std::vector<BufferId>{derive.input});
    CHECK(derive.writes == std::vector<BufferId>{derive.output});
    // ... and the derived one lives to its last reader, the next layer's backward.
    CHECK(plan.ops[derived.last_op].kind == OpKind::backward);
    CHECK(plan.ops[derived.last_op].input == derive.output);
    CHECK(derived.last_op == derived.first_op + 1);
  }
  CHECK(plan.derived_outputs == 3);
  CHECK(plan.recomputed_forwards == 0);
  CHECK(plan.checkpoints == std::vector<std::size_t>{0, 1, 2});  // kept as their pre-activations
}

TEST_CASE("the builder derives only a layer whose output is a function of a kept pre-activation") {
  ModelSpec model = gelu_model(2, 8, 4);
  const Chain chain = build_chain(model);
  ScheduleBuilder gelu(chain, model, StepContext{});
  gelu.forward(0, OpKind::forward, false);
  CHECK(!gelu.can_derive(0));
  CHECK_THROWS_AS(gelu.derive(0), std::logic_error);  // the pre-activation was not kept
  gelu.forward(1, OpKind::forward, true);
  CHECK(gelu.can_derive(1));
  CHECK_NOTHROW(gelu.derive(1));
  CHECK(!gelu.can_derive(2));  // the identity output layer
  CHECK(!gelu.can_derive(3));  // no such layer
  model.activation = Activation::relu;
  const Chain relu_chain = build_chain(model);
  ScheduleBuilder relu(relu_chain, model, StepContext{});
  relu.forward(0, OpKind::forward, true);
  CHECK(!relu.can_derive(0));
  CHECK_THROWS_AS(relu.derive(0), std::logic_error);
  // build_schedule replays a derive call like any other.
  const std::vector<ScheduleCall> calls{{OpKind::forward, 0, true},  {OpKind::forward, 1, true},
                                        {OpKind::forward, 2, false}, {OpKind::loss, 0, false},
                                        {OpKind::derive, 1, false},  {OpKind::backward, 2, false},
                                        {OpKind::backward, 1, false}, {OpKind::derive, 0, false},
                                        {OpKind::backward, 0, false}};
  const Plan plan = build_schedule(chain, gelu_model(2, 8, 4), StepContext{}, calls, "hand", "hand-built");
  CHECK(count_kind(plan, OpKind::derive) == 2);
  // A derive nobody reads still makes its instance, alive for its own op.
  CHECK(buffer_named(plan, "act.0.r1").first_op == buffer_named(plan, "act.0.r1").last_op);
}

TEST_CASE("parse_plan: +derive after none, sqrtn and every:K only") {
  for (const char* text : {"none+derive", "sqrtn+derive", "every:3+derive"}) {
    CAPTURE(text);
    const PlanSpec spec = parse_plan(text);
    CHECK(spec.derive);
    CHECK(spec.text == text);
  }
  CHECK(parse_plan("every:3+derive").every == 3);
  CHECK(!parse_plan("none").derive);
  for (const char* bad : {"+derive", "derive", "none+", "budget:1MiB+derive", "auto+derive", "chen-greedy+derive",
                          "none+derive+derive", "every:0+derive", "none +derive"}) {
    CAPTURE(std::string(bad));
    CHECK_THROWS_AS(parse_plan(bad, "--plans"), UsageError);
    try {
      parse_plan(bad, "--plans");
    } catch (const UsageError& e) {
      CHECK(std::string(e.what()).rfind("--plans", 0) == 0);
      CHECK(std::string(e.what()).find("+derive") != std::string::npos);
    }
  }
}

TEST_CASE("random chains: op-level plans never hold more than their layer-level plan, and keep the invariants") {
  std::mt19937_64 rng(1313);
  std::size_t derived_plans = 0;
  for (int trial = 0; trial < 120; ++trial) {
    ModelSpec model;
    model.in_features = 1 + rng() % 7;
    model.out_features = 1 + rng() % 5;
    model.batch = 1 + rng() % 100;
    model.activation = static_cast<Activation>(1 + rng() % 3);
    model.dropout = rng() % 3 == 0 ? 0.25 : 0.0;
    const bool equal = trial % 2 == 0;
    const std::size_t depth = 1 + rng() % 30, width = 1 + rng() % 200;
    model.hidden_widths.clear();
    for (std::size_t i = 0; i + 1 < depth; ++i) model.hidden_widths.push_back(equal ? width : 1 + rng() % 300);
    const std::string every = "every:" + std::to_string(1 + rng() % depth);
    for (const std::string& text : {std::string("none"), std::string("sqrtn"), every}) {
      const Plan layer_level = make_plan(model, StepContext{}, parse_plan(text));
      const Plan op_level = make_plan(model, StepContext{}, parse_plan(text + "+derive"));
      INFO(depth << " layers, " << std::string(to_string(model.activation)) << ", dropout " << model.dropout << ", "
                 << text);
      egc::testing::check_plan_invariants(op_level);
      if (equal) CHECK(op_level.arena_bytes == op_level.live_peak_bytes);
      CHECK(op_level.activation_peak_bytes <= layer_level.activation_peak_bytes);
      CHECK(op_level.recompute_flops == layer_level.recompute_flops);
      CHECK(op_level.ops.size() == layer_level.ops.size() + op_level.derived_outputs);
      const bool derivable = depth > 1 && output_derivable(build_chain(model).layers[0]);
      CHECK((op_level.derived_outputs > 0) == derivable);
      derived_plans += op_level.derived_outputs > 0;
    }
  }
  CHECK(derived_plans > 50);
}

TEST_CASE("GELU chains: none+derive holds at least 40% less activation memory than none, for one pointwise op a layer") {
  // Deep enough that the kept tensors, not the few transient ones, make the peak (9 layers: 35% less).
  for (std::size_t hidden : {16, 32}) {
    const ModelSpec model = gelu_model(hidden, 512, 256);
    const Plan none = make_plan(model, StepContext{}, parse_plan("none"));
    const Plan op_level = make_plan(model, StepContext{}, parse_plan("none+derive"));
    const double ratio = static_cast<double>(op_level.activation_peak_bytes) / none.activation_peak_bytes;
    MESSAGE((hidden + 1) << " layers: activation peak none+derive / none = " << ratio << ", predicted time "
                       << op_level.predicted_step_ms / none.predicted_step_ms);
    CHECK(ratio <= 0.6);
    CHECK(op_level.derived_outputs == hidden);
    // The time model prices each derive op as an activation kernel over the layer's output.
    double derive_ms = 0;
    for (std::size_t i = 0; i < op_level.ops.size(); ++i) {
      if (op_level.ops[i].kind != OpKind::derive) continue;
      const std::vector<KernelCall> calls = op_kernels(op_level, i, model.batch);
      REQUIRE(calls.size() == 1);
      CHECK(calls[0].cost_key() == "activation_forward:gelu");
      CHECK(calls[0].units == model.batch * 512);
      CHECK(op_level.ops[i].predicted_ms > 0);
      derive_ms += op_level.ops[i].predicted_ms;
    }
    CHECK(op_level.predicted_step_ms == doctest::Approx(none.predicted_step_ms + derive_ms).epsilon(1e-9));
  }
}

TEST_CASE("the schedule and the JSON report show derive ops, other plans' JSON has no new field") {
  const ModelSpec model = gelu_model(6, 16, 8);
  const Plan op_level = make_plan(model, StepContext{}, parse_plan("sqrtn+derive"));
  const std::string summary = format_schedule(op_level, ScheduleDetail::summary);
  // 7 layers, checkpoints 2 and 4: a derive goes with the backward or the recompute run it precedes.
  CHECK(summary.find("backward 5-6; recompute -; derive 4-5 ") != std::string::npos);
  CHECK(summary.find("backward 3-4; recompute 3; derive 2 (2 ops) ") != std::string::npos);
  CHECK(summary.find("backward 0-2; recompute 0-1; derive 0 ") != std::string::npos);
  CHECK(summary.find(std::to_string(op_level.derived_outputs) + " outputs re-derived from pre-activations") !=
        std::string::npos);
  CHECK(format_schedule(op_level, ScheduleDetail::full).find("derive") != std::string::npos);
  const nlohmann::json json = plan_to_json(op_level);
  CHECK(json.at("derived_outputs") == op_level.derived_outputs);
  std::size_t derive_ops = 0;
  for (const auto& op : json.at("ops")) derive_ops += op.at("kind") == "derive";
  CHECK(derive_ops == op_level.derived_outputs);
  CHECK(!plan_to_json(make_plan(model, StepContext{}, parse_plan("sqrtn"))).contains("derived_outputs"));
}

TEST_CASE("the README's GELU figures: op-level plans against none and against the budget plan at sqrtn's peak") {
  // egc_train --layers 16 --width 1024 --activation gelu --batch 256 --dry-run, the shipped CPU profile.
  const ModelSpec model = gelu_model(16, 1024, 256);
  auto plan = [&](const std::string& text) { return make_plan(model, StepContext{}, parse_plan(text)); };
  const Plan none = plan("none"), none_derive = plan("none+derive"), sqrtn = plan("sqrtn");
  CHECK(none_derive.predicted_step_ms <= 1.02 * none.predicted_step_ms);
  CHECK(none_derive.activation_peak_bytes <= 0.6 * static_cast<double>(none.activation_peak_bytes));
  // The layer-level budget plan at sqrtn's peak: --objective flops (time's is op-level).
  StepContext flops;
  flops.objective = Objective::flops;
  const std::string at_sqrtn = "budget:" + std::to_string(sqrtn.activation_peak_bytes);
  const Plan layer_level = make_plan(model, flops, parse_plan(at_sqrtn));
  const Plan op_level = plan("every:2+derive");
  CHECK(op_level.activation_peak_bytes <= sqrtn.activation_peak_bytes);
  CHECK(op_level.predicted_step_ms < layer_level.predicted_step_ms);
  // The budget planner's own op-level plan at that peak (time objective) is faster still.
  CHECK(plan(at_sqrtn).predicted_step_ms < op_level.predicted_step_ms);
  MESSAGE("none+derive / none: peak " << static_cast<double>(none_derive.activation_peak_bytes) /
                                             none.activation_peak_bytes
                                      << ", time " << none_derive.predicted_step_ms / none.predicted_step_ms
                                      << "; at sqrtn's peak, every:2+derive / budget time "
                                      << op_level.predicted_step_ms / layer_level.predicted_step_ms);
}
