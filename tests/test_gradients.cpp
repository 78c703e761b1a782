// Gradients of the float32 executor against a float64 path of the same CPU math, itself checked
// by central finite differences.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "planner/make_plan.h"
#include "runtime/cpu_backend.h"
#include "runtime/cpu_math.h"
#include "runtime/executor.h"
#include "runtime/step_memory.h"

using namespace egc;

namespace {

// Loss and parameter gradients of the whole MLP in float64, by the same templates.
double reference_loss_and_gradients(const Chain& chain, const std::vector<double>& params, const std::vector<double>& x,
                                    const std::vector<double>& y, std::vector<double>* grads) {
  const std::size_t rows = chain.batch, n = chain.size();
  std::vector<std::vector<double>> outputs(n + 1), pres(n);
  outputs[0] = x;
  std::size_t largest = 0;
  for (const Layer& layer : chain.layers) largest = std::max(largest, layer.in * layer.out);
  std::vector<double> scratch(largest);
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& layer = chain.layers[i];
    outputs[i + 1].assign(rows * layer.out, 0.0);
    pres[i].assign(rows * layer.out, 0.0);
    cpu::gemm<double>(false, true, rows, layer.out, layer.in, outputs[i].data(), params.data() + layer.weight_offset, 0.0,
                      outputs[i + 1].data(), scratch.data());
    cpu::bias_activation_forward<double>(outputs[i + 1].data(), pres[i].data(), params.data() + layer.bias_offset, rows,
                                         layer.out, static_cast<int>(layer.activation));
  }
  double loss = 0;
  std::vector<double> grad(rows * chain.out_features);
  cpu::mse_loss<double>(outputs[n].data(), y.data(), &loss, grad.data(), rows, chain.out_features, 1.0);
  if (!grads) return loss;
  grads->assign(params.size(), 0.0);
  for (std::size_t i = n; i-- > 0;) {
    const Layer& layer = chain.layers[i];
    const SavedForBackward saved = saved_for_backward(layer.activation);
    if (saved != SavedForBackward::nothing)
      cpu::activation_backward<double>(grad.data(), (saved == SavedForBackward::output ? outputs[i + 1] : pres[i]).data(),
                                       rows, layer.out, static_cast<int>(layer.activation));
    cpu::gemm<double>(true, false, layer.out, layer.in, rows, grad.data(), outputs[i].data(), 0.0,
                      grads->data() + layer.weight_offset, scratch.data());
    cpu::bias_gradient<double>(grad.data(), grads->data() + layer.bias_offset, rows, layer.out, false);
    std::vector<double> next(rows * layer.in);
    cpu::gemm<double>(false, false, rows, layer.in, layer.out, grad.data(), params.data() + layer.weight_offset, 0.0,
                      next.data(), scratch.data());
    grad.swap(next);
  }
  return loss;
}

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return std::sqrt(diff / norm);
}

struct Problem {
  ModelSpec model;
  Chain chain;
  std::vector<double> params, x, y;
};

Problem random_problem(std::mt19937_64& rng, Activation activation) {
  Problem p;
  p.model.hidden_widths = {7, 12, 5};
  p.model.in_features = 3;
  p.model.out_features = 2;
  p.model.batch = 9;
  p.model.activation = activation;
  p.chain = build_chain(p.model);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (std::size_t i = 0; i < p.chain.param_count; ++i) p.params.push_back(uniform(rng) * 0.7);
  for (std::size_t i = 0; i < p.model.batch * p.model.in_features; ++i) p.x.push_back(uniform(rng));
  for (std::size_t i = 0; i < p.model.batch * p.model.out_features; ++i) p.y.push_back(uniform(rng) * 2);
  return p;
}

}  // namespace

TEST_CASE("the float64 reference agrees with central finite differences") {
  std::mt19937_64 rng(11);
  for (Activation activation : {Activation::relu, Activation::gelu, Activation::tanh}) {
    Problem p = random_problem(rng, activation);
    std::vector<double> analytic;
    reference_loss_and_gradients(p.chain, p.params, p.x, p.y, &analytic);
    std::vector<double> numeric(p.params.size());
    const double h = 1e-6;
    for (std::size_t i = 0; i < p.params.size(); ++i) {
      std::vector<double> plus = p.params, minus = p.params;
      plus[i] += h;
      minus[i] -= h;
      numeric[i] = (reference_loss_and_gradients(p.chain, plus, p.x, p.y, nullptr) -
                    reference_loss_and_gradients(p.chain, minus, p.x, p.y, nullptr)) /
                   (2 * h);
    }
    // Central differences in float64 carry O(h^2) truncation and O(eps/h) rounding, ~1e-10
    // here; relu's kink is never within h of a pre-activation for these random inputs.
    const double error = relative_error(analytic, numeric);
    MESSAGE(std::string(to_string(activation)) << ": float64 analytic vs finite differences, relative error " << error);
    CHECK(error < 1e-6);
  }
}

TEST_CASE("float32 executor gradients agree with the float64 reference") {
  std::mt19937_64 rng(12);
  for (Activation activation : {Activation::relu, Activation::gelu, Activation::tanh}) {
    for (const char* plan_text : {"none", "sqrtn", "every:2"}) {
      Problem p = random_problem(rng, activation);
      std::vector<double> reference;
      reference_loss_and_gradients(p.chain, p.params, p.x, p.y, &reference);

      CpuBackend backend;
      StepContext context;
      context.workspace_bytes = backend.workspace_bytes(p.chain);
      context.single_update = true;  // the whole-step gradient buffer holds every gradient after the pass
      const Plan plan = make_plan(p.model, context, parse_plan(plan_text));
      auto memory = make_step_memory(AllocMode::arena, plan, backend);
      Executor executor(plan, backend, *memory, OptimizerSettings{});
      std::vector<float> params(p.params.begin(), p.params.end()), x(p.x.begin(), p.x.end()), y(p.y.begin(), p.y.end());
      backend.copy_to_device(memory->pointer(plan.step.params), params.data(), params.size() * 4);
      backend.copy_to_device(memory->pointer(plan.step.batch_inputs), x.data(), x.size() * 4);
      backend.copy_to_device(memory->pointer(plan.step.batch_targets), y.data(), y.size() * 4);
      executor.run_micro_batch(MicroBatch{p.model.batch, false, 1.0f}, 1);
      const float* grads = memory->floats(plan.step.grads);
      const std::vector<double> measured(grads, grads + p.chain.param_count);
      // float32 rounding (6e-8) over dot products of at most 12 terms through 4 layers stays
      // below ~1e-5 of the gradient's norm; a wrong transpose or term is O(1).
      const double error = relative_error(measured, reference);
      MESSAGE(std::string(to_string(activation)) << " " << plan_text << ": float32 vs float64 gradient relative error " << error);
      CHECK(error < 1e-5);
    }
  }
}
