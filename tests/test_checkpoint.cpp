// The training state and its checkpoint file: a restored trainer continues bitwise as the
// uninterrupted one under any plan; every truncated, corrupt or mismatched file is refused naming
// the file and what is wrong; non-finite values stop a step where they appear.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "planner/errors.h"
#include "runtime/checkpoint.h"
#include "runtime/cpu_backend.h"
#include "runtime/finite_check.h"
#include "runtime/random.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"
#include "tests/command_helpers.h"

using namespace egc;

namespace {

struct Case {
  const char* name;
  Optimizer optimizer;
  std::size_t accumulate;
  const char* first_plan;
  const char* second_plan;
  AllocMode second_alloc;
  bool residual = false;  // residual blocks with LayerNorm, dropout 0.1, cross-entropy
};

struct Setup {
  ModelSpec model;
  Dataset data;
  TrainSettings settings;
};

Setup setup_for(const Case& c) {
  Setup s;
  s.model.hidden_widths = {7, 5, 9, 3};
  s.model.batch = 13;
  s.model.optimizer = c.optimizer;
  if (c.residual) {
    s.model.block = BlockKind::residual;
    s.model.hidden_widths = {6, 6, 6};
    s.model.expand = 2;
    s.model.dropout = 0.1;  // masks keyed by the step: resumption needs no generator state
    s.model.loss = LossKind::cross_entropy;
    s.model.out_features = 3;
  }
  s.data = make_synthetic_for(s.model, 300, 0.1, 5);
  split_dataset(s.data, 0.1, 5);
  s.settings.accumulate = c.accumulate;
  s.settings.seed = 5;
  return s;
}

Plan plan_for(const Setup& s, Backend& backend, const char* plan) {
  RunOptions options;
  options.single_update = s.settings.accumulate > 1;
  return plan_run(s.model, s.data, backend, parse_plan(plan), options);
}

// `s` trained `steps` steps under sqrtn: the plan and the trainer's state after them.
struct Trained {
  Plan plan;
  TrainingState state;
};
Trained trained(const Setup& s, std::size_t steps) {
  CpuBackend cpu;
  Trained result{plan_for(s, cpu, "sqrtn"), {}};
  Session session(result.plan, cpu, s.data, s.settings);
  session.train(steps, 0);
  result.state = session.trainer().state();
  return result;
}

ResumeTarget target_of(const Setup& s, const Plan& plan) {
  return {plan.chain, plan.model, checkpoint_fingerprint(plan.model, s.data, s.settings.optimizer, s.settings.accumulate),
          s.data.train_rows};
}

std::string usage_error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("checkpoint: a resumed trainer ends bitwise where the uninterrupted one does, under another plan") {
  // 9 + 31 steps cross epochs (270 training rows, 13 or 26 rows a step), so the order, the
  // cursor and the shuffling's random state all matter.
  const Case cases[] = {{"sgd", Optimizer::sgd, 1, "sqrtn", "none", AllocMode::arena},
                        {"adam", Optimizer::adam, 1, "none", "every:2", AllocMode::per_buffer},
                        {"adam accumulate 2", Optimizer::adam, 2, "every:3", "sqrtn", AllocMode::arena},
                        {"sgd accumulate 3", Optimizer::sgd, 3, "none", "budget:2KiB", AllocMode::per_buffer},
                        {"residual dropout cross-entropy", Optimizer::adam, 2, "sqrtn", "none", AllocMode::per_buffer, true}};
  for (const Case& c : cases) {
    INFO(c.name);
    Setup s = setup_for(c);
    CpuBackend cpu;
    const Plan first_plan = plan_for(s, cpu, c.first_plan);
    Session uninterrupted(first_plan, cpu, s.data, s.settings);
    uninterrupted.train(40, 0);
    const std::vector<float> expected = uninterrupted.trainer().parameters();

    Session before(first_plan, cpu, s.data, s.settings);
    before.train(9, 0);
    const std::string path = std::string("test_checkpoint_") + c.name + ".safetensors";
    write_checkpoint(path, first_plan.chain, before.trainer().state(), target_of(s, first_plan).fingerprint, first_plan.name);

    TrainSettings second_settings = s.settings;
    second_settings.alloc = c.second_alloc;
    const Plan second_plan = plan_for(s, cpu, c.second_plan);
    const TrainingState state = read_checkpoint(path, target_of(s, second_plan));
    CHECK(state.step == 9);
    Session after(second_plan, cpu, s.data, second_settings, &state.params);
    after.trainer().restore(state);
    after.train(31, 0);
    CHECK(after.trainer().steps_done() == 40);
    CHECK(after.trainer().parameters() == expected);
    std::remove(path.c_str());
  }
}

TEST_CASE("checkpoint: the random state, the order and the optimizer state round-trip exactly") {
  Random random(42);
  random.uniform();
  Random copy(0);
  REQUIRE(copy.set_state(random.state()));
  CHECK(copy.uniform() == random.uniform());
  CHECK_FALSE(copy.set_state("1 2 3"));
  CHECK_FALSE(copy.set_state(random.state() + " trailing"));

  const Case c{"adam", Optimizer::adam, 1, "sqrtn", "sqrtn", AllocMode::arena};
  Setup s = setup_for(c);
  const Trained run = trained(s, 25);
  const Plan& plan = run.plan;
  const TrainingState& state = run.state;
  CHECK(state.adam_m.size() == plan.chain.param_count);
  CHECK(state.velocity.empty());
  const std::string path = "test_checkpoint_round_trip.safetensors";
  write_checkpoint(path, plan.chain, state, target_of(s, plan).fingerprint, plan.name);
  const TrainingState read = read_checkpoint(path, target_of(s, plan));
  CHECK(read.params == state.params);
  CHECK(read.adam_m == state.adam_m);
  CHECK(read.adam_v == state.adam_v);
  CHECK(read.order == state.order);
  CHECK(read.step == 25);
  CHECK(read.epoch == state.epoch);
  CHECK(read.epoch == 1);  // 25 x 13 rows is past one epoch of 270
  CHECK(read.cursor == state.cursor);
  CHECK(read.shuffle_state == state.shuffle_state);
  // The parameters are --save's: --load reads them, passing over the egc.* tensors.
  CHECK(load_safetensors(path, plan.chain) == state.params);
  std::remove(path.c_str());
}

TEST_CASE("checkpoint: truncated, corrupt and mismatched files are refused naming the file and what is wrong") {
  const Case c{"sgd", Optimizer::sgd, 1, "sqrtn", "sqrtn", AllocMode::arena};
  Setup s = setup_for(c);
  const Trained run = trained(s, 3);
  const Plan& plan = run.plan;
  const TrainingState& state = run.state;
  const std::string path = "test_checkpoint_bad.safetensors";
  const ResumeTarget target = target_of(s, plan);
  write_checkpoint(path, plan.chain, state, target.fingerprint, plan.name);
  const std::string good = test::read_file(path);
  auto refusal = [&](const std::string& bytes) { return usage_error_of([&] { parse_checkpoint(bytes, "--resume: 'x' ", target); }); };
  CHECK(refusal(good).empty());
  // Every truncation, from nothing to one byte short.
  for (std::size_t length = 0; length < good.size(); ++length) {
    INFO("truncated to " << length);
    CHECK(refusal(good.substr(0, length)).find("--resume: 'x' ") == 0);
  }
  // One flipped bit anywhere in the data, or in a state value of the header, is caught by the checksum.
  for (std::size_t at = good.size() - 1; at > good.size() - 400; at -= 37) {
    std::string flipped = good;
    flipped[at] = static_cast<char>(flipped[at] ^ 4);
    CHECK(refusal(flipped).find("is corrupt") != std::string::npos);
  }
  std::string stepped = good;
  stepped.replace(stepped.find("\"egc.step\":\"3\""), 14, "\"egc.step\":\"4\"");
  CHECK(refusal(stepped).find("checksum") != std::string::npos);
  CHECK(refusal(test::read_file(path).replace(8, 1, "#")).find("corrupt header") != std::string::npos);
  CHECK(usage_error_of([&] { read_checkpoint("no/such.safetensors", target); }).find("--resume: cannot open") == 0);
  // A --save file is not a checkpoint.
  save_safetensors(path, plan.chain, state.params);
  CHECK(usage_error_of([&] { read_checkpoint(path, target); }).find("not an egc checkpoint") != std::string::npos);

  // Mismatches name what differs.
  write_checkpoint(path, plan.chain, state, target.fingerprint, plan.name);
  const std::pair<const char*, CheckpointFingerprint> others[] = {
      {"another model", checkpoint_fingerprint([&] { ModelSpec m = s.model; m.hidden_widths[0] = 8; return m; }(), s.data,
                                               s.settings.optimizer, 1)},
      {"another data", checkpoint_fingerprint(s.model, make_synthetic(300, 1, 1, 0.2, 5), s.settings.optimizer, 1)},
      {"another optimizer", checkpoint_fingerprint(s.model, s.data, OptimizerSettings{{0.02f, 0.9f}, {}}, 1)},
      {"another training", checkpoint_fingerprint(s.model, s.data, s.settings.optimizer, 2)}};
  for (const auto& other : others) {
    const std::string what = other.first;
    const std::string message =
        usage_error_of([&] { read_checkpoint(path, {plan.chain, plan.model, other.second, s.data.train_rows}); });
    INFO(message);
    CHECK(message.find("--resume: '" + path + "' was written for " + what) == 0);
  }
  std::remove(path.c_str());
}

namespace {

// Trains `s` (a NaN planted in one training row) for up to 40 steps under a FiniteCheck; returns
// the error and the micro-batch (from 0) that held the row, the last one the trainer recorded.
std::pair<std::optional<NonFiniteError>, std::size_t> train_poisoned(Setup& s, bool gradients) {
  const std::uint32_t poisoned = s.data.train_rows[100];
  s.data.inputs[poisoned] = std::numeric_limits<float>::quiet_NaN();
  CpuBackend cpu;
  const Plan plan = plan_for(s, cpu, "sqrtn");
  Session session(plan, cpu, s.data, s.settings);
  std::vector<std::uint32_t> rows;
  session.trainer().record_batches(&rows);
  FiniteCheck check(session.trainer(), cpu, gradients);
  session.trainer().executor().set_hook(check.hook({}));
  std::optional<NonFiniteError> error;
  try {
    session.train(40, 0);
  } catch (const NonFiniteError& e) {
    error = e;
  }
  const std::size_t first = static_cast<std::size_t>(std::find(rows.begin(), rows.end(), poisoned) - rows.begin());
  return {error, first / plan.chain.batch};
}

}  // namespace

TEST_CASE("finite check: a non-finite loss names its step and micro-batch, --check-finite the layer") {
  const Case c{"sgd accumulate 2", Optimizer::sgd, 2, "sqrtn", "sqrtn", AllocMode::arena};
  // tanh carries a NaN in the data through to the loss, in the micro-batch that holds its row.
  Setup tanh_model = setup_for(c);
  tanh_model.model.activation = Activation::tanh;
  const auto [loss_error, holder] = train_poisoned(tanh_model, false);
  REQUIRE(loss_error.has_value());
  CHECK(loss_error->step == holder / 2 + 1);
  CHECK(loss_error->micro_batch == holder % 2 + 1);
  CHECK(loss_error->layer == -1);
  CHECK(std::string(loss_error->what()) == "non-finite loss (nan) at step " + std::to_string(holder / 2 + 1) +
                                               ", micro-batch " + std::to_string(holder % 2 + 1));

  // relu(NaN) is 0 here, so the loss stays finite while layer 0's weight gradient (0 x NaN) is
  // not: only --check-finite sees it, in the same micro-batch.
  Setup relu_model = setup_for(c);
  CHECK_FALSE(train_poisoned(relu_model, false).first.has_value());
  relu_model = setup_for(c);
  const auto [gradient_error, relu_holder] = train_poisoned(relu_model, true);
  REQUIRE(gradient_error.has_value());
  CHECK(std::string(gradient_error->what()) == "non-finite gradient of layer 0 (0.weight, 0.bias) at step " +
                                                   std::to_string(relu_holder / 2 + 1) + ", micro-batch " +
                                                   std::to_string(relu_holder % 2 + 1));
  CHECK(gradient_error->layer == 0);

  const Chain chain = build_chain(relu_model.model);
  std::vector<float> params(chain.param_count, 1.0f);
  CHECK_NOTHROW(check_finite_parameters(chain, params, 7));
  params[chain.layers[1].bias_offset] = -INFINITY;
  CHECK_THROWS_WITH_AS(check_finite_parameters(chain, params, 7),
                       "non-finite parameters of layer 1 (2.weight, 2.bias) after step 7", NonFiniteError);
}
