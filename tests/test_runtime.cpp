// CPU runtime: every plan (budget and chen-greedy plans included) computes the same step bitwise,
// in exactly the planned memory.
#include <doctest/doctest.h>

#include <optional>
#include <random>
#include <string>

#include "planner/budget.h"
#include "planner/make_plan.h"
#include "planner/units.h"
#include "runtime/cpu_backend.h"
#include "runtime_fixtures.h"

using namespace egc;
using egc::testing::random_model;
using egc::testing::train_for;

namespace {

// Trains `plan` with both allocation modes: the same parameters and losses as `reference`
// bitwise, and exactly the planned memory.
void check_same_step_as_planned(const ModelSpec& model, TrainSettings settings, const std::string& plan,
                                const egc::testing::TrainedRun& reference, std::size_t steps) {
  for (AllocMode alloc : {AllocMode::arena, AllocMode::per_buffer}) {
    INFO(plan << " " << std::string(to_string(alloc)));
    settings.alloc = alloc;
    CpuBackend run_backend;
    const auto run = train_for(run_backend, model, plan, settings, steps);
    CHECK(run.parameters == reference.parameters);  // bitwise: float == on every element
    CHECK(run.losses == reference.losses);
    if (alloc == AllocMode::arena) {
      REQUIRE(run.measured.arena_bytes.has_value());
      CHECK(*run.measured.arena_bytes == run.plan.arena_bytes);
      CHECK(run.measured.peak_bytes == run.plan.arena_bytes);
    } else {
      REQUIRE(run.measured.activation_peak_bytes.has_value());
      CHECK(*run.measured.activation_peak_bytes == run.plan.activation_peak_bytes);
      CHECK(run.measured.peak_bytes == run.plan.live_peak_bytes);
      // Before and after every op of the first step, exactly the planned live bytes are held.
      REQUIRE(run.measured.timeline.size() == 2 * run.plan.ops.size() * settings.accumulate - 2 * (settings.accumulate - 1));
      for (const MemorySample& sample : run.measured.timeline) CHECK(sample.bytes == run.plan.live_bytes[sample.op]);
    }
  }
}

}  // namespace

TEST_CASE("parameters after several steps are bitwise identical for every plan, and memory is as planned") {
  std::mt19937_64 rng(7);
  std::size_t models = 0;
  for (int trial = 0; trial < 40; ++trial) {
    ModelSpec model = random_model(rng);
    if (trial < 4) model.hidden_widths.assign(static_cast<std::size_t>(trial % 2), 5);  // depths 1 and 2
    TrainSettings settings;
    settings.seed = rng();
    settings.accumulate = 1 + rng() % 3;
    settings.optimizer.sgd = {0.05f, trial % 3 == 0 ? 0.0f : 0.9f};
    model.sgd_momentum = settings.optimizer.sgd.momentum != 0.0f;
    const std::size_t n = model.hidden_widths.size() + 1;
    const std::string every = "every:" + std::to_string(1 + rng() % n);
    INFO("trial " << trial << ": " << n << " layers, batch " << model.batch << ", " << std::string(to_string(model.activation))
                  << ", " << std::string(to_string(model.optimizer)) << ", accumulate " << settings.accumulate);
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 4);
    for (float loss : reference.losses) CHECK(std::isfinite(loss));
    for (const std::string& plan : {std::string("none"), std::string("sqrtn"), every, std::string("every:2"),
                                    std::string("none+derive"), std::string("sqrtn+derive"), every + "+derive"})
      check_same_step_as_planned(model, settings, plan, reference, 4);
    ++models;
  }
  CHECK(models == 40);
}

TEST_CASE("budget and chen-greedy plans train bitwise like none, in exactly the planned memory") {
  std::mt19937_64 rng(1911);
  std::size_t plans = 0, multi_level = 0;
  for (int trial = 0; trial < 12; ++trial) {
    ModelSpec model = random_model(rng);
    model.hidden_widths.clear();  // deeper than random_model's: room for checkpoints in checkpoints
    const std::size_t hidden = 5 + rng() % 9;
    for (std::size_t i = 0; i < hidden; ++i) model.hidden_widths.push_back(trial % 2 ? 9 : 1 + 2 * (rng() % 12));
    TrainSettings settings;
    settings.seed = rng();
    settings.accumulate = 1 + rng() % 2;
    model.sgd_momentum = true;
    INFO("trial " << trial << ": " << hidden + 1 << " layers, batch " << model.batch << ", "
                  << std::string(to_string(model.activation)) << ", accumulate " << settings.accumulate);
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 3);
    BudgetPlanner planner(build_chain(model));
    const std::size_t low = planner.min_activation_peak(), high = reference.plan.activation_peak_bytes;
    std::vector<std::string> texts{"chen-greedy"};
    for (std::size_t step = 0; step <= 4; ++step) texts.push_back("budget:" + std::to_string(low + (high - low) * step / 4));
    for (const std::string& plan : texts) {
      check_same_step_as_planned(model, settings, plan, reference, 3);
      // Multi-level: a recomputed output kept across three or more backwards is a checkpoint made
      // while recomputing (a relu tape spans two).
      const Plan built = make_plan(model, StepContext{}, parse_plan(plan));
      bool nested = false;
      for (const Op& op : built.ops) {
        if (op.kind != OpKind::recompute) continue;
        const Buffer& out = built.buffers[op.output];
        std::size_t backwards = 0;
        for (std::size_t i = out.first_op; i <= out.last_op; ++i) backwards += built.ops[i].kind == OpKind::backward;
        nested = nested || backwards >= 3;
      }
      multi_level += nested;
      ++plans;
    }
  }
  MESSAGE(plans << " budget and chen-greedy plans trained bitwise like none with planned == measured (arena and "
                   "per-buffer); "
                << multi_level << " of them multi-level");
}

TEST_CASE("op-level budget plans (derives the DP chose) train bitwise like none, in exactly the planned memory") {
  for (Activation activation : {Activation::gelu, Activation::tanh}) {
    ModelSpec model;
    model.in_features = 6;
    model.out_features = 3;
    model.hidden_widths.assign(9, 24);
    model.activation = activation;
    model.dropout = activation == Activation::tanh ? 0.25 : 0;  // tanh's output is derivable behind dropout
    model.batch = 16;
    model.sgd_momentum = true;
    TrainSettings settings;
    settings.seed = 77;
    settings.accumulate = 2;
    INFO(std::string(to_string(activation)));
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 3);
    // At sqrtn's activation peak the time objective keeps checkpoints as pre-activations.
    const std::string plan =
        "budget:" + std::to_string(make_plan(model, StepContext{}, parse_plan("sqrtn")).activation_peak_bytes);
    REQUIRE(make_plan(model, StepContext{}, parse_plan(plan)).derived_outputs > 0);
    check_same_step_as_planned(model, settings, plan, reference, 3);
  }
}

TEST_CASE("budget plans that drop checkpoints and re-make them train bitwise like none, in exactly the planned memory") {
  // Unequal widths, where drops pay (tests/test_budget_drops.cpp): the first budget at which the
  // time objective's plan drops a checkpoint, for each activation.
  std::mt19937_64 rng(31);
  std::size_t checked = 0;
  for (int trial = 0; trial < 200 && checked < 3; ++trial) {
    ModelSpec model;
    model.in_features = 1 + rng() % 6;
    model.out_features = 1 + rng() % 4;
    model.batch = 3 + rng() % 20;
    model.activation = checked == 1 ? Activation::gelu : Activation::relu;
    model.dropout = checked == 2 ? 0.25 : 0;
    model.hidden_widths.clear();
    for (int i = 0; i < 7; ++i) model.hidden_widths.push_back(1 + rng() % 48);
    const Chain chain = build_chain(model);
    BudgetPlanner planner = BudgetPlanner::for_objective(chain, model, StepContext{});
    std::optional<std::string> dropping;
    for (int i = 0; i <= 40 && !dropping; ++i) {
      const std::string plan = "budget:" + std::to_string(planner.min_activation_peak() * (40 + 2 * i) / 40);
      if (make_plan(model, StepContext{}, parse_plan(plan)).dropped_checkpoints > 0) dropping = plan;
    }
    if (!dropping) continue;
    const std::string plan = *dropping;
    INFO("trial " << trial << ", " << plan);
    TrainSettings settings;
    settings.seed = rng();
    settings.accumulate = 1 + checked % 2;
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 3);
    check_same_step_as_planned(model, settings, plan, reference, 3);
    ++checked;
  }
  CHECK(checked == 3);
}

TEST_CASE("cross-entropy: every plan computes the same step bitwise, in exactly the planned memory") {
  std::mt19937_64 rng(2024);
  for (int trial = 0; trial < 12; ++trial) {
    ModelSpec model = random_model(rng);
    model.loss = LossKind::cross_entropy;
    model.out_features = 2 + rng() % 5;
    TrainSettings settings;
    settings.seed = rng();
    settings.accumulate = 1 + rng() % 2;
    const std::size_t n = model.hidden_widths.size() + 1;
    INFO("trial " << trial << ": " << n << " layers, " << model.out_features << " classes, batch " << model.batch);
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 3);
    for (float loss : reference.losses) CHECK(std::isfinite(loss));
    for (const std::string& plan : {std::string("sqrtn"), "every:" + std::to_string(1 + rng() % n), std::string("every:2")})
      check_same_step_as_planned(model, settings, plan, reference, 3);
  }
}

namespace {

// A random residual model: 1 to 6 blocks of an odd width, inner 1 to 3 times as wide, either
// norm, activation, loss and optimizer; the plans of every kind, budget plans across the range.
ModelSpec random_residual_model(std::mt19937_64& rng) {
  ModelSpec model = random_model(rng);
  model.block = BlockKind::residual;
  model.hidden_widths.assign(1 + rng() % 6, 1 + 2 * (rng() % 8));
  model.expand = 1 + rng() % 3;
  model.norm = rng() % 3 ? Norm::layernorm : Norm::none;
  if (rng() % 2) {
    model.loss = LossKind::cross_entropy;
    model.out_features = 2 + rng() % 4;
  }
  return model;
}

std::vector<std::string> every_plan_kind(const ModelSpec& model, std::mt19937_64& rng, std::size_t none_peak) {
  const std::size_t n = build_chain(model).size();
  std::vector<std::string> plans{"sqrtn", "every:2", "every:" + std::to_string(1 + rng() % n), "chen-greedy",
                                 "none+derive", "sqrtn+derive"};
  BudgetPlanner planner(build_chain(model));
  const std::size_t low = planner.min_activation_peak();
  for (std::size_t step = 0; step <= 2; ++step) plans.push_back("budget:" + std::to_string(low + (none_peak - low) * step / 2));
  return plans;
}

}  // namespace

TEST_CASE("residual blocks: every plan computes the same step bitwise, in exactly the planned memory") {
  std::mt19937_64 rng(314);
  for (int trial = 0; trial < 16; ++trial) {
    ModelSpec model = random_residual_model(rng);
    TrainSettings settings;
    settings.seed = rng();
    settings.accumulate = 1 + rng() % 2;
    INFO("trial " << trial << ": " << model.hidden_widths.size() << " blocks of " << model.hidden_widths[0] << " x"
                  << model.expand << ", " << std::string(to_string(model.norm)) << ", "
                  << std::string(to_string(model.activation)) << ", " << std::string(to_string(model.loss))
                  << ", batch " << model.batch << ", accumulate " << settings.accumulate);
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 3);
    for (float loss : reference.losses) CHECK(std::isfinite(loss));
    for (const std::string& plan : every_plan_kind(model, rng, reference.plan.activation_peak_bytes))
      check_same_step_as_planned(model, settings, plan, reference, 3);
  }
}

TEST_CASE("dropout 0.1: residual blocks with LayerNorm, both losses, every plan bitwise alike, memory as planned") {
  std::mt19937_64 rng(1010);
  for (int trial = 0; trial < 8; ++trial) {
    ModelSpec model = random_residual_model(rng);
    model.norm = Norm::layernorm;
    model.dropout = 0.1;
    model.loss = trial % 2 ? LossKind::cross_entropy : LossKind::mse;
    model.out_features = trial % 2 ? 2 + rng() % 4 : 1 + rng() % 3;
    if (trial == 7) {  // and a plain chain, whose relu layers keep the dropped output, tanh the pre-activation
      model.block = BlockKind::plain;
      model.hidden_widths = {5, 7, 3, 9};
      model.activation = Activation::tanh;
    }
    TrainSettings settings;
    settings.seed = rng();
    settings.accumulate = 1 + rng() % 2;
    INFO("trial " << trial << ": " << model.hidden_widths.size() << " x " << model.hidden_widths[0] << ", "
                  << std::string(to_string(model.block)) << ", " << std::string(to_string(model.activation)) << ", "
                  << std::string(to_string(model.loss)) << ", accumulate " << settings.accumulate);
    CpuBackend backend;
    const auto reference = train_for(backend, model, "none", settings, 3);
    for (const std::string& plan : every_plan_kind(model, rng, reference.plan.activation_peak_bytes))
      check_same_step_as_planned(model, settings, plan, reference, 3);
    // The masks are live: without dropout the same seed trains other parameters.
    ModelSpec without = model;
    without.dropout = 0;
    CHECK(train_for(backend, without, "none", settings, 3).parameters != reference.parameters);
  }
}

TEST_CASE("evaluation runs without dropout: the same parameters evaluate as a model without it") {
  ModelSpec model;
  model.block = BlockKind::residual;
  model.hidden_widths.assign(3, 12);
  model.dropout = 0.5;
  model.loss = LossKind::cross_entropy;
  model.out_features = 3;
  model.batch = 16;
  Dataset data = make_synthetic_for(model, 400, 0.1, 5);
  split_dataset(data, 0.25, 5);
  CpuBackend backend;
  const Plan plan = plan_run(model, data, backend, parse_plan("sqrtn"));
  Session session(plan, backend, data, TrainSettings{});
  session.train(4, 0);
  const std::vector<float> trained = session.trainer().parameters();
  const std::optional<Evaluation> first = session.trainer().evaluate(false);
  const std::optional<Evaluation> again = session.trainer().evaluate(false);
  ModelSpec without = model;
  without.dropout = 0;
  const Plan plain = plan_run(without, data, backend, parse_plan("none"));
  Session other(plain, backend, data, TrainSettings{}, &trained);
  const std::optional<Evaluation> reference = other.trainer().evaluate(false);
  REQUIRE(first);
  REQUIRE(reference);
  CHECK(first->loss == again->loss);
  CHECK(first->loss == reference->loss);
  CHECK(*first->accuracy == *reference->accuracy);
}

TEST_CASE("training loss falls on the synthetic task") {
  ModelSpec model;
  model.hidden_widths.assign(3, 16);
  model.batch = 32;
  TrainSettings settings;
  settings.optimizer.sgd = {0.05f, 0.9f};
  CpuBackend backend;
  const auto run = train_for(backend, model, "sqrtn", settings, 60, 2048);
  CHECK(run.losses.back() < 0.2 * run.losses.front());
  // The same task in 4 classes: cross-entropy falls from about log 4, and the accuracy rises.
  model.loss = LossKind::cross_entropy;
  model.out_features = 4;
  settings.optimizer.sgd = {0.1f, 0.9f};
  const auto classes = train_for(backend, model, "sqrtn", settings, 150, 2048);
  CHECK(classes.losses.front() > 1.0);
  CHECK(classes.losses.back() < 0.5 * classes.losses.front());
}

TEST_CASE("a derive op re-derives the forward's output bit for bit, dropout mask included") {
  for (const Activation activation : {Activation::gelu, Activation::tanh}) {
    ModelSpec model;
    model.hidden_widths = {7, 12, 5};
    model.batch = 9;
    model.activation = activation;
    model.dropout = 0.3;  // tanh keeps its pre-activation only with dropout
    Dataset data = make_synthetic_for(model, 64, 0.1, 11);
    split_dataset(data, 0.0, 11);
    CpuBackend backend;
    const Plan plan = plan_run(model, data, backend, parse_plan("sqrtn+derive"));
    REQUIRE(plan.derived_outputs > 0);
    Session session(plan, backend, data, TrainSettings{});
    // Per layer: the output of its first forward, then of every derive of it.
    std::vector<std::vector<std::vector<float>>> outputs(plan.chain.size());
    session.trainer().executor().set_hook([&](std::size_t index, bool after) {
      const Op& op = plan.ops[index];
      if (!after || (op.kind != OpKind::forward && op.kind != OpKind::derive)) return;
      const float* out = session.trainer().memory().floats(op.output);
      outputs[static_cast<std::size_t>(op.layer)].emplace_back(out, out + plan.buffers[op.output].bytes / sizeof(float));
    });
    session.train(2, 0);  // the second step draws other masks
    std::size_t compared = 0;
    for (const auto& instances : outputs) {
      // Two steps: each step's derives equal that step's forward output.
      const std::size_t per_step = instances.size() / 2;
      for (std::size_t i = 0; i < instances.size(); ++i) {
        CHECK(instances[i] == instances[i / std::max<std::size_t>(per_step, 1) * per_step]);
        compared += i % per_step != 0;
      }
    }
    CHECK(compared == 2 * plan.derived_outputs);
  }
}
