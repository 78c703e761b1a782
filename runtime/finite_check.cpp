// FiniteCheck: the loss and the gradients checked as the step makes them.
#include "runtime/finite_check.h"

#include <algorithm>
#include <cmath>

#include "planner/parameter_tensors.h"

namespace egc {
namespace {

bool all_finite(const float* values, std::size_t count) {
  return std::all_of(values, values + count, [](float value) { return std::isfinite(value); });
}

// The names of the unit's tensors, as --save writes them ("2.weight, 2.bias", "blocks.0.norm.weight, ...").
std::string layer_names(const Chain& chain, std::size_t layer) {
  const Layer& unit = chain.layers.at(layer);
  std::string names;
  for (const ParameterTensor& tensor : parameter_tensors(chain))
    if (tensor.offset >= unit.param_offset && tensor.offset < unit.param_offset + unit.params)
      names += (names.empty() ? "" : ", ") + tensor.name;
  return names;
}

}  // namespace

FiniteCheck::FiniteCheck(Trainer& trainer, Backend& backend, bool gradients)
    : trainer_(trainer), backend_(backend), gradients_(gradients) {
  if (gradients_) {
    std::size_t largest = 0;
    for (const Layer& layer : trainer.executor().plan().chain.layers) largest = std::max(largest, layer.param_count());
    scratch_.resize(largest);
  }
}

Executor::OpHook FiniteCheck::hook(Executor::OpHook next) {
  return [this, next = std::move(next)](std::size_t op, bool after) {
    if (after) after_op(op);
    if (next) next(op, after);
  };
}

void FiniteCheck::after_op(std::size_t index) {
  const Plan& plan = trainer_.executor().plan();
  const Op& op = plan.ops[index];
  StepMemory& memory = trainer_.memory();
  if (op.kind == OpKind::loss) {
    const std::size_t step = trainer_.steps_done() + 1;
    micro_batch_ = step == step_ ? micro_batch_ + 1 : 1;
    step_ = step;
    float loss = 0;
    backend_.copy_to_host(&loss, memory.pointer(plan.step.loss), sizeof loss);
    if (!std::isfinite(loss))
      throw NonFiniteError("non-finite loss (" + std::to_string(loss) + ") at step " + std::to_string(step_) +
                               ", micro-batch " + std::to_string(micro_batch_),
                           step_, micro_batch_, -1);
  } else if (op.kind == OpKind::backward && gradients_) {
    const Layer& layer = plan.chain.layers[static_cast<std::size_t>(op.layer)];
    const auto* source = static_cast<const char*>(memory.pointer(op.gradients)) + op.gradient_first * sizeof(float);
    backend_.copy_to_host(scratch_.data(), source, layer.param_count() * sizeof(float));
    if (!all_finite(scratch_.data(), layer.param_count()))
      throw NonFiniteError("non-finite gradient of layer " + std::to_string(op.layer) + " (" +
                               layer_names(plan.chain, static_cast<std::size_t>(op.layer)) + ") at step " + std::to_string(step_) +
                               ", micro-batch " + std::to_string(micro_batch_),
                           step_, micro_batch_, op.layer);
  }
}

void check_finite_parameters(const Chain& chain, const std::vector<float>& params, std::size_t step) {
  for (const Layer& layer : chain.layers)
    if (!all_finite(params.data() + layer.param_offset, layer.param_count()))
      throw NonFiniteError("non-finite parameters of layer " + std::to_string(layer.index) + " (" +
                               layer_names(chain, layer.index) + ") after step " + std::to_string(step),
                           step, 0, static_cast<int>(layer.index));
}

}  // namespace egc
