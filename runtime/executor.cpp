// Executor: op -> backend calls.
#include "runtime/executor.h"

#include <stdexcept>

namespace egc {

Executor::Executor(const Plan& plan, Backend& backend, StepMemory& memory, const OptimizerSettings& optimizer)
    : plan_(plan), backend_(backend), memory_(memory), optimizer_(optimizer) {
  if (plan.ops.empty() || plan.ops.back().kind != OpKind::update)
    throw std::logic_error("executor: the plan does not end with an update");
  // With one update of all parameters (single_update) it runs once after every micro-batch.
  end_of_micro_batch_ = plan.context.single_update ? plan.ops.size() - 1 : plan.ops.size();
  loss_op_ = plan.loss_op();
}

void Executor::run_micro_batch(const MicroBatch& batch, std::size_t step) {
  if (batch.accumulate && end_of_micro_batch_ == plan_.ops.size())
    throw std::logic_error("executor: accumulating micro-batches needs a plan with one final update");
  for (std::size_t op = 0; op < end_of_micro_batch_; ++op) run_op(op, batch, step);
}

void Executor::run_update(std::size_t step) {
  if (end_of_micro_batch_ < plan_.ops.size()) run_op(end_of_micro_batch_, MicroBatch{}, step);
}

void Executor::run_forward_and_loss(std::size_t rows) {
  const MicroBatch batch{rows, false, 1.0f};
  for (std::size_t op = 0; op <= loss_op_; ++op)
    if (plan_.ops[op].kind != OpKind::recompute) run_op(op, batch, 0);
  memory_.release_transients();
}

void Executor::gemm(const GemmShape& shape, const float* a, const float* b, float beta, float* c) {
  backend_.gemm(shape.transpose_a, shape.transpose_b, shape.m, shape.n, shape.k, a, b, beta, c);
}

void Executor::run_op(std::size_t index, const MicroBatch& batch, std::size_t step) {
  const Op& op = plan_.ops[index];
  memory_.before_op(index);
  if (hook_) hook_(index, false);
  const StepBuffers& s = plan_.step;
  float* params = memory_.floats(s.params);
  switch (op.kind) {
    case OpKind::forward:
    case OpKind::recompute: {
      const Layer& layer = plan_.chain.layers[static_cast<std::size_t>(op.layer)];
      float* output = memory_.floats(op.output);
      gemm(forward_gemm(layer, batch.rows), memory_.floats(op.input), params + layer.weight_offset, 0.0f, output);
      backend_.bias_activation_forward(output, op.pre == kNoBuffer ? nullptr : memory_.floats(op.pre),
                                       params + layer.bias_offset, batch.rows, layer.out, layer.activation);
      break;
    }
    case OpKind::loss:
      backend_.mse_loss(memory_.floats(op.input), memory_.floats(s.batch_targets), memory_.floats(s.loss),
                        memory_.floats(op.output), batch.rows, plan_.chain.out_features, batch.loss_scale);
      break;
    case OpKind::backward: {
      const Layer& layer = plan_.chain.layers[static_cast<std::size_t>(op.layer)];
      // The weight gradient, followed by the bias gradient.
      float* weight_grad = memory_.floats(op.gradients) + op.gradient_first;
      float* bias_grad = weight_grad + (layer.bias_offset - layer.weight_offset);
      float* grad_output = memory_.floats(op.grad_output);
      if (op.saved != kNoBuffer)
        backend_.activation_backward(grad_output, memory_.floats(op.saved), batch.rows, layer.out, layer.activation);
      const float beta = batch.accumulate ? 1.0f : 0.0f;
      gemm(weight_gradient_gemm(layer, batch.rows), grad_output, memory_.floats(op.input), beta, weight_grad);
      backend_.bias_gradient(grad_output, bias_grad, batch.rows, layer.out, batch.accumulate);
      if (op.grad_input != kNoBuffer)
        gemm(input_gradient_gemm(layer, batch.rows), grad_output, params + layer.weight_offset, 0.0f,
             memory_.floats(op.grad_input));
      break;
    }
    case OpKind::update: {
      const std::size_t first = op.param_first;
      auto state = [&](BufferId id) { return id == kNoBuffer ? nullptr : memory_.floats(id) + first; };
      float* grads = memory_.floats(op.gradients) + op.gradient_first;
      if (plan_.model.optimizer == Optimizer::sgd)
        backend_.sgd_update(params + first, grads, state(s.velocity), op.param_count, optimizer_.sgd);
      else
        backend_.adam_update(params + first, grads, state(s.adam_m), state(s.adam_v), op.param_count, optimizer_.adam,
                             step);
      break;
    }
  }
  if (hook_) hook_(index, true);
  memory_.after_op(index);
}

}  // namespace egc
