// Schedules: plan parsing, exact lifetimes and offsets of a tiny step, invariants over many
// random chains and every plan, and the sqrt(n) memory/recompute figures.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/report.h"
#include "planner/units.h"
#include "plan_checks.h"

using namespace egc;
using egc::testing::buffer_named;
using egc::testing::equal_model;

TEST_CASE("parse_plan accepts the documented plans and rejects the rest") {
  CHECK(parse_plan("none").kind == PlanKind::none);
  CHECK(parse_plan("sqrtn").kind == PlanKind::sqrtn);
  const PlanSpec every = parse_plan("every:4");
  CHECK(every.kind == PlanKind::every);
  CHECK(every.every == 4);
  const PlanSpec budget = parse_plan("budget:512MiB");
  CHECK(budget.kind == PlanKind::budget);
  CHECK(budget.budget_bytes == std::size_t{512} << 20);
  CHECK(parse_plan("budget:1073741824").budget_bytes == std::size_t{1} << 30);
  CHECK(parse_plan("auto").kind == PlanKind::automatic);
  const PlanSpec chen = parse_plan("chen-greedy");
  CHECK(chen.kind == PlanKind::chen_greedy);
  CHECK(!chen.has_budget);
  const PlanSpec chen_within = parse_plan("chen-greedy:2GiB");
  CHECK(chen_within.has_budget);
  CHECK(chen_within.budget_bytes == std::size_t{2} << 30);
  for (const char* bad : {"", "sqrt", "every:", "every:0", "every:-1", "every:x", "every:3.5", "None", "budget",
                          "budget:", "budget:-1", "budget:12XB", "budget:1.2.3GiB", "Auto", "auto:1GiB",
                          "chen-greedy:", "chen-greedy:x", "chen", "budget:18446744073709551616"}) {
    CAPTURE(bad);
    try {
      parse_plan(bad);
      FAIL("accepted");
    } catch (const UsageError& e) {
      const std::string message = e.what();
      CHECK(message.rfind("--plan", 0) == 0);
      for (const char* plan : {"none", "sqrtn", "every:K", "budget:SIZE", "chen-greedy", "chen-greedy:SIZE", "auto"})
        CHECK(message.find(plan) != std::string::npos);
    }
  }
}

TEST_CASE("checkpoint sets") {
  CHECK(every_k_checkpoints(10, 3) == std::vector<std::size_t>{2, 5, 8});
  CHECK(every_k_checkpoints(10, 1).size() == 9);
  CHECK(every_k_checkpoints(1, 1).empty());
  CHECK(sqrtn_checkpoints(16) == std::vector<std::size_t>{3, 7, 11});
  CHECK(sqrtn_checkpoints(17) == std::vector<std::size_t>{4, 8, 12});
  CHECK(sqrtn_checkpoints(1).empty());
  CHECK(sqrtn_checkpoints(2).empty());  // round(sqrt 2) = 1 segment
}

TEST_CASE("a one-hidden-layer step with one final update: exact ops, lifetimes and offsets") {
  ModelSpec model = equal_model(1, 4, 2);
  StepContext context;
  context.single_update = true;
  const Plan plan = make_plan(model, context, parse_plan("none"));
  REQUIRE(plan.ops.size() == 6);
  const OpKind kinds[] = {OpKind::forward, OpKind::forward, OpKind::loss,
                          OpKind::backward, OpKind::backward, OpKind::update};
  for (std::size_t i = 0; i < 6; ++i) CHECK(plan.ops[i].kind == kinds[i]);
  CHECK(buffer_named(plan, "params").bytes == (4 * 1 + 4 + 1 * 4 + 1) * 4);
  const Buffer& act0 = buffer_named(plan, "act.0");
  const Buffer& act1 = buffer_named(plan, "act.1");
  const Buffer& grad1 = buffer_named(plan, "grad_act.1");
  const Buffer& grad0 = buffer_named(plan, "grad_act.0");
  CHECK(act0.bytes == 2 * 4 * 4);
  CHECK(act1.bytes == 2 * 1 * 4);
  CHECK((act0.first_op == 0 && act0.last_op == 4));   // relu: backward of layer 0 reads its output
  CHECK((act1.first_op == 1 && act1.last_op == 2));   // the prediction dies at the loss
  CHECK((grad1.first_op == 2 && grad1.last_op == 3));
  CHECK((grad0.first_op == 3 && grad0.last_op == 4));
  // 7 persistent buffers of one unit each (params, grads, velocity, batch indices/inputs/targets, loss).
  CHECK(act0.offset == 7 * 256);
  CHECK(act1.offset == 8 * 256);
  CHECK(grad1.offset == 9 * 256);
  CHECK(grad0.offset == 8 * 256);  // reuses the prediction's space
  CHECK(plan.arena_bytes == 10 * 256);
  CHECK(plan.live_peak_bytes == 10 * 256);
  CHECK(plan.activation_peak_bytes == 3 * 256);
  egc::testing::check_plan_invariants(plan);
}

TEST_CASE("per-layer updates: each layer's gradients live from its backward to its update") {
  const ModelSpec model = equal_model(1, 4, 2);
  const Plan plan = make_plan(model, StepContext{}, parse_plan("none"));
  REQUIRE(plan.ops.size() == 7);
  const OpKind kinds[] = {OpKind::forward,  OpKind::forward, OpKind::loss,  OpKind::backward,
                          OpKind::update,   OpKind::backward, OpKind::update};
  const int layers[] = {0, 1, -1, 1, 1, 0, 0};
  for (std::size_t i = 0; i < 7; ++i) {
    CHECK(plan.ops[i].kind == kinds[i]);
    CHECK(plan.ops[i].layer == layers[i]);
  }
  CHECK(plan.step.grads == kNoBuffer);
  const Buffer& grads1 = buffer_named(plan, "grads.1");
  const Buffer& grads0 = buffer_named(plan, "grads.0");
  CHECK(grads1.bytes == (1 * 4 + 1) * 4);
  CHECK(grads0.bytes == (4 * 1 + 4) * 4);
  CHECK((grads1.first_op == 3 && grads1.last_op == 4));
  CHECK((grads0.first_op == 5 && grads0.last_op == 6));
  CHECK(grads1.kind == BufferKind::gradients);
  egc::testing::check_plan_invariants(plan);
  // Never more than one layer's gradients at once, where the single update holds them all.
  StepContext single;
  single.single_update = true;
  const ModelSpec deep = equal_model(12, 64, 32);
  const Plan per_layer = make_plan(deep, StepContext{}, parse_plan("sqrtn"));
  const Plan one_update = make_plan(deep, single, parse_plan("sqrtn"));
  const std::size_t gradient_kind = static_cast<std::size_t>(BufferKind::gradients);
  CHECK(per_layer.breakdown[gradient_kind].peak_bytes == align_up((64 * 64 + 64) * 4, kArenaAlignment));
  CHECK(one_update.breakdown[gradient_kind].peak_bytes == align_up(per_layer.chain.param_count * 4, kArenaAlignment));
  CHECK(per_layer.arena_bytes < one_update.arena_bytes);
  CHECK(per_layer.activation_peak_bytes == one_update.activation_peak_bytes);
}

TEST_CASE("GELU keeps the pre-activation for backward - recompute segments rebuild it") {
  ModelSpec model = equal_model(6, 8, 4);
  model.activation = Activation::gelu;
  const Plan plan = make_plan(model, StepContext{}, parse_plan("every:3"));
  egc::testing::check_plan_invariants(plan);
  // Checkpoint layer 2 keeps output and pre-activation through the forward pass; layer 0 keeps neither.
  CHECK(buffer_named(plan, "pre.2").last_op > plan.loss_op());
  CHECK(buffer_named(plan, "act.0").last_op == 1);
  CHECK(buffer_named(plan, "act.0.r1").first_op > plan.loss_op());
  CHECK(buffer_named(plan, "pre.0").first_op > plan.loss_op());  // only made by the recompute
  CHECK(plan.recomputed_forwards == 4);                           // layers 0,1 and 3,4
}

TEST_CASE("every:1 is none - recompute counts and checkpoints") {
  const ModelSpec model = equal_model(9, 16, 8);
  const Plan none = make_plan(model, StepContext{}, parse_plan("none"));
  const Plan every1 = make_plan(model, StepContext{}, parse_plan("every:1"));
  CHECK(none.ops.size() == every1.ops.size());
  CHECK(none.arena_bytes == every1.arena_bytes);
  CHECK(none.recomputed_forwards == 0);
  CHECK(none.checkpoints.size() == 9);
  const Plan every5 = make_plan(model, StepContext{}, parse_plan("every:5"));
  CHECK(every5.checkpoints == std::vector<std::size_t>{4, 5, 6, 7, 8});  // checkpoint 4, final segment 5-9
  CHECK(every5.recomputed_forwards == 4);
}

TEST_CASE("random chains, every plan: invariants - arena at the lower bound for equal widths") {
  std::mt19937_64 rng(20261127);
  double worst_unequal = 1.0;
  std::string worst_case;
  std::size_t equal_cases = 0, unequal_cases = 0;
  for (int trial = 0; trial < 400; ++trial) {
    // Mostly small chains, some deep ones, up to 300 layers (hidden + output).
    const std::size_t depth = trial % 10 == 0 ? 150 + rng() % 151 : 1 + rng() % 40;
    const bool equal = trial % 2 == 0;
    ModelSpec model;
    model.in_features = 1 + rng() % 7;
    model.out_features = 1 + rng() % 5;
    model.batch = 1 + rng() % 300;
    model.activation = static_cast<Activation>(1 + rng() % 3);
    model.optimizer = rng() % 2 ? Optimizer::adam : Optimizer::sgd;
    model.sgd_momentum = rng() % 2;
    const std::size_t width = 1 + rng() % 200;
    model.hidden_widths.clear();
    for (std::size_t i = 0; i + 1 < depth; ++i) model.hidden_widths.push_back(equal ? width : 1 + rng() % 300);
    StepContext context;
    context.dataset_rows = rng() % 3 ? 1000 : 0;
    context.workspace_bytes = rng() % 2 ? 4096 + rng() % 10000 : 0;
    const std::size_t k = 1 + rng() % std::max<std::size_t>(1, depth);
    for (const std::string& plan_text : {std::string("none"), std::string("sqrtn"), "every:" + std::to_string(k),
                                        std::string("every:2")}) {
      const Plan plan = make_plan(model, context, parse_plan(plan_text));
      const std::string label = "depth " + std::to_string(depth) + (equal ? " equal" : " unequal") + " batch " +
                                std::to_string(model.batch) + " " + to_string(model.activation) + " " + plan_text;
      INFO(label);
      egc::testing::check_plan_invariants(plan);
      if (equal) {
        ++equal_cases;
        CHECK(plan.arena_bytes == plan.live_peak_bytes);
      } else {
        ++unequal_cases;
        const double ratio = static_cast<double>(plan.arena_bytes) / plan.live_peak_bytes;
        CHECK(ratio <= 1.05);
        if (ratio > worst_unequal) {
          worst_unequal = ratio;
          worst_case = label;
        }
      }
    }
  }
  MESSAGE("checked " << equal_cases << " equal-width and " << unequal_cases
                     << " unequal-width plans; worst unequal arena / lower bound = " << worst_unequal
                     << (worst_case.empty() ? "" : " (" + worst_case + ")"));
}

TEST_CASE("sqrt(n): activation peak and recomputation against keeping everything") {
  for (std::size_t n : {16, 64, 256}) {
    // n equal layers in the chain: n-1 hidden layers of width 512 and the output layer.
    const ModelSpec model = equal_model(n - 1, 512, 256);
    const Plan none = make_plan(model, StepContext{}, parse_plan("none"));
    const Plan sqrtn = make_plan(model, StepContext{}, parse_plan("sqrtn"));
    const double ratio = static_cast<double>(sqrtn.activation_peak_bytes) / none.activation_peak_bytes;
    MESSAGE("n = " << n << ": activation peak none " << format_bytes(none.activation_peak_bytes) << ", sqrtn "
                   << format_bytes(sqrtn.activation_peak_bytes) << " (ratio " << ratio << "); sqrtn recomputes "
                   << sqrtn.recomputed_forwards << " layer forwards (n - sqrt(n) = "
                   << n - static_cast<std::size_t>(std::sqrt(static_cast<double>(n))) << "), arena none "
                   << format_bytes(none.arena_bytes) << ", sqrtn " << format_bytes(sqrtn.arena_bytes));
    CHECK(sqrtn.recomputed_forwards <= n - static_cast<std::size_t>(std::sqrt(static_cast<double>(n))));
    if (n >= 64) CHECK(ratio <= 1.0 / 3.0);
    CHECK(sqrtn.arena_bytes < none.arena_bytes);
  }
}

TEST_CASE("sizes whose byte counts overflow 64 bits are rejected") {
  ModelSpec model = equal_model(4, 1ull << 31, 1ull << 31);
  CHECK_THROWS_AS(make_plan(model, StepContext{}, parse_plan("sqrtn")), UsageError);
  model = equal_model(4, 8, 0);
  CHECK_THROWS_AS(make_plan(model, StepContext{}, parse_plan("sqrtn")), UsageError);
}

TEST_CASE("the JSON report states the plan: every documented field, with the plan's values") {
  const Plan plan = make_plan(equal_model(5, 32, 16), StepContext{1000, 0, 0, MemoryLimitSource::none, false, 1, nullptr}, parse_plan("sqrtn"));
  const nlohmann::json json = plan_to_json(plan);
  CHECK(json["name"] == "sqrtn");
  CHECK(json["description"] == plan.description);
  CHECK(json["layers"] == 6);
  CHECK(json["checkpoints"] == nlohmann::json(plan.checkpoints));
  CHECK(json["recomputed_forwards"] == plan.recomputed_forwards);
  CHECK(json["recompute_flops"] == plan.recompute_flops);
  CHECK(json["forward_flops"] == plan.forward_flops);
  CHECK(json["arena_bytes"] == plan.arena_bytes);
  CHECK(json["activation_peak_bytes"] == plan.activation_peak_bytes);
  CHECK(json["live_peak_bytes"] == plan.live_peak_bytes);
  CHECK(json["arena_gap_bytes"] == plan.arena_bytes - plan.live_peak_bytes);
  CHECK(json["alignment_bytes"] == 256);
  CHECK(json["objective"] == "time");  // the default; --objective flops reads "flops"
  REQUIRE(json["buffers"].size() == plan.buffers.size());
  for (std::size_t id = 0; id < plan.buffers.size(); ++id) {
    const Buffer& buffer = plan.buffers[id];
    const nlohmann::json& b = json["buffers"][id];
    INFO(buffer.name);
    CHECK(b["name"] == buffer.name);
    CHECK(b["kind"] == to_string(buffer.kind));
    CHECK(b["bytes"] == buffer.bytes);
    CHECK(b["footprint"] == buffer.footprint);
    CHECK(b["offset"] == buffer.offset);
    CHECK(b["first_op"] == buffer.first_op);
    CHECK(b["last_op"] == buffer.last_op);
    CHECK(b["persistent"] == buffer.persistent);
    CHECK(b["layer"] == buffer.layer);
  }
  REQUIRE(json["ops"].size() == plan.ops.size());
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const nlohmann::json& op = json["ops"][i];
    CHECK(op["index"] == i);
    CHECK(op["kind"] == to_string(plan.ops[i].kind));
    CHECK(op["layer"] == plan.ops[i].layer);
    CHECK(op["reads"] == nlohmann::json(plan.ops[i].reads));
    CHECK(op["writes"] == nlohmann::json(plan.ops[i].writes));
    CHECK(op["live_bytes"] == plan.live_bytes[i]);
  }
  REQUIRE(json["breakdown"].size() == kBufferKindCount);
  for (std::size_t kind = 0; kind < kBufferKindCount; ++kind) {
    const nlohmann::json& totals = json["breakdown"][to_string(static_cast<BufferKind>(kind))];
    CHECK(totals["buffers"] == plan.breakdown[kind].buffers);
    CHECK(totals["total_bytes"] == plan.breakdown[kind].total_bytes);
    CHECK(totals["peak_bytes"] == plan.breakdown[kind].peak_bytes);
  }
}

TEST_CASE("a residual block's buffers: exact sizes, the tape kept only when asked for, scratch for one op") {
  ModelSpec model;
  model.block = BlockKind::residual;
  model.hidden_widths = {8, 8, 8};  // units: projection 0, blocks 1-3, head 4
  model.expand = 3;
  model.batch = 5;
  model.in_features = 2;
  model.out_features = 3;
  model.loss = LossKind::cross_entropy;
  const Plan plan = make_plan(model, StepContext{}, parse_plan("every:2"));  // keeps 1 and 3: recomputes 0 and 2
  egc::testing::check_plan_invariants(plan);
  const std::size_t rows = 5, width = 8, inner = 24;
  // Block 2's first forward keeps no tape (it is recomputed before its backward), so it makes
  // only its output and its inner scratch; the recompute keeps the tape.
  CHECK(buffer_named(plan, "act.2").bytes == rows * width * 4);
  CHECK(buffer_named(plan, "inner.2").bytes == rows * inner * 4);
  CHECK(buffer_named(plan, "inner.2").first_op == buffer_named(plan, "inner.2").last_op);
  CHECK(buffer_named(plan, "pre.2").bytes == rows * inner * 4);
  CHECK(buffer_named(plan, "stats.2").bytes == rows * 2 * 4);
  CHECK(plan.ops[buffer_named(plan, "pre.2").first_op].kind == OpKind::recompute);
  CHECK(plan.ops[buffer_named(plan, "pre.2").last_op].kind == OpKind::backward);
  // Block 3 keeps its tape in the first pass (its backward comes first), block 1 too (a checkpoint).
  CHECK(plan.ops[buffer_named(plan, "pre.3").first_op].kind == OpKind::forward);
  for (const char* name : {"grad_inner.2", "grad_norm.2"}) {
    const Buffer& b = buffer_named(plan, name);
    CHECK(b.first_op == b.last_op);  // the backward's own scratch
    CHECK(plan.ops[b.first_op].kind == OpKind::backward);
  }
  CHECK(buffer_named(plan, "grad_inner.2").bytes == rows * inner * 4);
  CHECK(buffer_named(plan, "grad_norm.2").bytes == rows * width * 4);
  // The blocks add their input gradient in place: the head's input gradient passes through every
  // block to the projection; no other gradient of width 8 exists.
  const Buffer& stream = buffer_named(plan, "grad_act.3");
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::backward && op.layer >= 1 && op.layer <= 3) {
      CHECK(op.grad_output == op.grad_input);
      CHECK(plan.buffers[op.grad_output].name == "grad_act.3");
    }
  CHECK(plan.ops[stream.last_op].layer == 0);
  for (const Buffer& b : plan.buffers) CHECK(b.name.rfind("grad_act.2", 0) != 0);
  // Cross-entropy: one class index per row, the loss buffer holds the loss and the correct count.
  CHECK(plan.buffers[plan.step.batch_targets].bytes == rows * 4);
  CHECK(plan.buffers[plan.step.loss].bytes == 8);
  // Without a norm there is neither statistics nor the norm's gradient scratch.
  model.norm = Norm::none;
  const Plan bare = make_plan(model, StepContext{}, parse_plan("none"));
  for (const Buffer& b : bare.buffers) {
    CHECK(b.name.rfind("stats.", 0) != 0);
    CHECK(b.name.rfind("grad_norm.", 0) != 0);
  }
}
