// Gradients of the float32 executor against a float64 path of the same CPU math (reference_model.h),
// itself checked by central finite differences: plain chains and residual blocks, both losses.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "planner/make_plan.h"
#include "runtime/cpu_backend.h"
#include "runtime/executor.h"
#include "runtime/step_memory.h"
#include "tests/reference_model.h"

using namespace egc;
using egc::testing::ReferenceBatch;
using egc::testing::ReferenceModel;
using egc::testing::relative_error;

namespace {

struct Problem {
  ModelSpec model;
  Chain chain;
  std::vector<double> params;
  ReferenceBatch batch;
  std::string label;
};

// 3 -> 7 -> 12 -> 5 -> 2 (or 4 classes), batch 9: small enough for finite differences of every
// parameter, odd sizes everywhere.
ModelSpec plain_model(Activation activation, LossKind loss) {
  ModelSpec model;
  model.hidden_widths = {7, 12, 5};
  model.in_features = 3;
  model.out_features = loss == LossKind::cross_entropy ? 4 : 2;
  model.loss = loss;
  model.batch = 9;
  model.activation = activation;
  return model;
}

// 3 -> 6 (2 residual blocks of width 6, inner 12) -> 2 (or 3 classes), batch 9.
ModelSpec residual_model(Activation activation, LossKind loss, Norm norm, double dropout = 0) {
  ModelSpec model = plain_model(activation, loss);
  model.block = BlockKind::residual;
  model.hidden_widths = {6, 6};
  model.expand = 2;
  model.norm = norm;
  model.dropout = dropout;
  if (loss == LossKind::cross_entropy) model.out_features = 3;
  return model;
}

Problem random_problem(std::mt19937_64& rng, const ModelSpec& model, const std::string& label) {
  Problem p;
  p.model = model;
  p.chain = build_chain(model);
  p.label = label;
  p.batch.dropout = model.dropout;  // keyed as the executor's first micro-batch of step 1, seed 0
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (std::size_t i = 0; i < p.chain.param_count; ++i) p.params.push_back(uniform(rng) * 0.7);
  for (std::size_t i = 0; i < model.batch * model.in_features; ++i) p.batch.x.push_back(uniform(rng));
  for (std::size_t i = 0; i < model.batch * model.target_columns(); ++i)
    p.batch.y.push_back(model.loss == LossKind::cross_entropy ? static_cast<double>(rng() % model.out_features)
                                                              : uniform(rng) * 2);
  return p;
}

std::vector<Problem> problems(std::mt19937_64& rng) {
  std::vector<Problem> list;
  for (Activation activation : {Activation::relu, Activation::gelu, Activation::tanh})
    list.push_back(random_problem(rng, plain_model(activation, LossKind::mse), std::string("mse ") + to_string(activation)));
  for (Activation activation : {Activation::relu, Activation::tanh})
    list.push_back(random_problem(rng, plain_model(activation, LossKind::cross_entropy),
                                  std::string("cross-entropy ") + to_string(activation)));
  for (Activation activation : {Activation::relu, Activation::gelu, Activation::tanh})
    for (LossKind loss : {LossKind::mse, LossKind::cross_entropy})
      for (Norm norm : {Norm::layernorm, Norm::none})
        list.push_back(random_problem(rng, residual_model(activation, loss, norm),
                                      std::string("residual ") + to_string(norm) + " " + to_string(activation) + " " +
                                          to_string(loss)));
  // Dropout 0.3 (a third of the elements dropped: both branches of every mask well exercised);
  // the mask does not depend on the parameters, so finite differences see the same one.
  for (Activation activation : {Activation::relu, Activation::gelu, Activation::tanh}) {
    ModelSpec plain = plain_model(activation, LossKind::mse);
    plain.dropout = 0.3;
    list.push_back(random_problem(rng, plain, std::string("dropout mse ") + to_string(activation)));
    list.push_back(random_problem(rng, residual_model(activation, LossKind::cross_entropy, Norm::layernorm, 0.3),
                                  std::string("dropout residual layernorm cross-entropy ") + to_string(activation)));
  }
  return list;
}

// Central differences of the float64 reference over every parameter.
std::vector<double> finite_differences(Problem& p, double h) {
  ReferenceModel reference(p.chain);
  std::vector<double> numeric(p.params.size());
  for (std::size_t i = 0; i < p.params.size(); ++i) {
    std::vector<double> plus = p.params, minus = p.params;
    plus[i] += h;
    minus[i] -= h;
    numeric[i] = (reference.loss(plus, p.batch, nullptr) - reference.loss(minus, p.batch, nullptr)) / (2 * h);
  }
  return numeric;
}

// One step of the float32 executor under `plan_text`: the whole-step gradients.
std::vector<double> executor_gradients(const Problem& p, const std::string& plan_text) {
  CpuBackend backend;
  StepContext context;
  context.workspace_bytes = backend.workspace_bytes(p.chain);
  context.single_update = true;  // the whole-step gradient buffer holds every gradient after the pass
  const Plan plan = make_plan(p.model, context, parse_plan(plan_text));
  auto memory = make_step_memory(AllocMode::arena, plan, backend);
  Executor executor(plan, backend, *memory, OptimizerSettings{});
  std::vector<float> params(p.params.begin(), p.params.end()), x(p.batch.x.begin(), p.batch.x.end()),
      y(p.batch.y.begin(), p.batch.y.end());
  backend.copy_to_device(memory->pointer(plan.step.params), params.data(), params.size() * 4);
  backend.copy_to_device(memory->pointer(plan.step.batch_inputs), x.data(), x.size() * 4);
  backend.copy_to_device(memory->pointer(plan.step.batch_targets), y.data(), y.size() * 4);
  executor.run_micro_batch(MicroBatch{p.model.batch, false, 1.0f}, 1);
  const float* grads = memory->floats(plan.step.grads);
  return std::vector<double>(grads, grads + p.chain.param_count);
}

}  // namespace

TEST_CASE("the float64 reference agrees with central finite differences") {
  std::mt19937_64 rng(11);
  for (Problem& p : problems(rng)) {
    std::vector<double> analytic;
    ReferenceModel(p.chain).loss(p.params, p.batch, &analytic);
    // Central differences in float64 carry O(h^2) truncation and O(eps/h) rounding, ~1e-10
    // here; relu's kink is never within h of a pre-activation for these random inputs.
    const double error = relative_error(analytic, finite_differences(p, 1e-6));
    MESSAGE(p.label << ": float64 analytic vs finite differences, relative error " << error);
    CHECK(error < 1e-6);
  }
}

TEST_CASE("float32 executor gradients agree with the float64 reference") {
  std::mt19937_64 rng(12);
  for (const char* plan_text : {"none", "sqrtn", "every:2"}) {
    for (const Problem& p : problems(rng)) {
      std::vector<double> reference;
      ReferenceModel(p.chain).loss(p.params, p.batch, &reference);
      // float32 rounding (6e-8) over dot products of at most 12 terms through 4 layers stays
      // below ~1e-5 of the gradient's norm; a wrong transpose or term is O(1).
      const double error = relative_error(executor_gradients(p, plan_text), reference);
      MESSAGE(p.label << " " << std::string(plan_text) << ": float32 vs float64 gradient relative error " << error);
      CHECK(error < 1e-5);
    }
  }
}
