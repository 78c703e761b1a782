// Executor: op -> backend calls.
#include "runtime/executor.h"

#include <algorithm>
#include <stdexcept>

namespace egc {

Executor::Executor(const Plan& plan, Backend& backend, StepMemory& memory, const OptimizerSettings& optimizer)
    : plan_(plan), backend_(backend), memory_(memory), optimizer_(optimizer) {
  if (plan.ops.empty() || plan.ops.back().kind != OpKind::update)
    throw std::logic_error("executor: the plan does not end with an update");
  // With one update of all parameters (single_update) it runs once after every micro-batch.
  end_of_micro_batch_ = plan.context.single_update ? plan.ops.size() - 1 : plan.ops.size();
  loss_op_ = plan.loss_op();
  copy_waits_.resize(plan.ops.size() + 1);
  for (std::size_t i = 0; i < plan.ops.size(); ++i)
    if (is_copy(plan.ops[i].kind))
      copy_waits_[std::min(plan.ops[i].waited_by_op, plan.ops.size())].push_back(i);
  // A final update of all parameters runs after the micro-batches: whatever it would wait for,
  // the end of each micro-batch waits for already.
  if (end_of_micro_batch_ < plan.ops.size()) {
    std::vector<std::size_t>& last = copy_waits_[end_of_micro_batch_];
    copy_waits_.back().insert(copy_waits_.back().end(), last.begin(), last.end());
    last.clear();
  }
}

void Executor::run_micro_batch(const MicroBatch& batch, std::size_t step) {
  if (batch.accumulate && end_of_micro_batch_ == plan_.ops.size())
    throw std::logic_error("executor: accumulating micro-batches needs a plan with one final update");
  for (std::size_t op = 0; op < end_of_micro_batch_; ++op) run_op(op, batch, step);
  for (std::size_t copy : copy_waits_.back()) backend_.wait_copy(copy);
}

void Executor::run_update(std::size_t step) {
  if (end_of_micro_batch_ < plan_.ops.size()) run_op(end_of_micro_batch_, MicroBatch{}, step);
}

void Executor::run_forward_and_loss(std::size_t rows) {
  MicroBatch batch;
  batch.rows = rows;
  batch.training = false;
  // Nothing is copied: nothing after the loss reads the copies, and (batch.training false)
  // nothing waits for them.
  for (std::size_t op = 0; op <= loss_op_; ++op)
    if (plan_.ops[op].kind != OpKind::recompute && !is_copy(plan_.ops[op].kind)) run_op(op, batch, 0);
  memory_.release_transients();
}

void Executor::gemm(const GemmShape& shape, const float* a, const float* b, float beta, float* c) {
  backend_.gemm(shape.transpose_a, shape.transpose_b, shape.m, shape.n, shape.k, a, b, beta, c);
}

void Executor::copy(std::size_t index, const Op& op) {
  backend_.copy_async(index, memory_.pointer(op.output), memory_.pointer(op.input), plan_.buffers[op.input].bytes,
                      op.kind == OpKind::offload ? CopyDirection::to_host : CopyDirection::to_device);
}

DropoutMask Executor::dropout_of(const Layer& layer, const MicroBatch& batch, std::size_t step) const {
  if (!batch.training || !layer.dropout) return DropoutMask{};
  return math::dropout_mask(plan_.model.dropout, batch.dropout_seed, step, batch.micro, layer.index);
}

void Executor::run_op(std::size_t index, const MicroBatch& batch, std::size_t step) {
  const Op& op = plan_.ops[index];
  memory_.before_op(index);
  if (hook_) hook_(index, false);
  if (batch.training)  // the evaluation pass makes no copies to wait for
    for (std::size_t copy : copy_waits_[index]) backend_.wait_copy(copy);
  const StepBuffers& s = plan_.step;
  switch (op.kind) {
    case OpKind::forward:
    case OpKind::recompute:
    case OpKind::backward: {
      const Layer& layer = plan_.chain.layers[static_cast<std::size_t>(op.layer)];
      const DropoutMask mask = dropout_of(layer, batch, step);
      const bool block = layer.kind == UnitKind::residual_block;
      if (op.kind == OpKind::backward)
        block ? backward_block(op, layer, batch, mask) : backward_linear(op, layer, batch, mask);
      else
        block ? forward_block(op, layer, batch, mask) : forward_linear(op, layer, batch, mask);
      break;
    }
    case OpKind::loss:
      if (plan_.chain.loss == LossKind::cross_entropy)
        backend_.cross_entropy_loss(memory_.floats(op.input), memory_.floats(s.batch_targets), memory_.floats(s.loss),
                                    memory_.floats(op.output), batch.rows, plan_.chain.out_features, batch.loss_scale);
      else
        backend_.mse_loss(memory_.floats(op.input), memory_.floats(s.batch_targets), memory_.floats(s.loss),
                          memory_.floats(op.output), batch.rows, plan_.chain.out_features, batch.loss_scale);
      break;
    case OpKind::update: update(op, step); break;
    case OpKind::derive: {
      // The same per-element math and dropout keys as the forward that wrote the pre-activation:
      // the derived output equals the forward's bit for bit.
      const Layer& layer = plan_.chain.layers[static_cast<std::size_t>(op.layer)];
      backend_.activation_forward(memory_.floats(op.input), memory_.floats(op.output), batch.rows, layer.out,
                                  layer.activation, dropout_of(layer, batch, step));
      break;
    }
    case OpKind::offload:
    case OpKind::prefetch: copy(index, op); break;
  }
  if (hook_) hook_(index, true);
  memory_.after_op(index);
}

void Executor::forward_linear(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask) {
  const float* params = memory_.floats(plan_.step.params);
  float* output = memory_.floats(op.output);
  gemm(forward_gemm(linear_shapes(layer)[0], batch.rows), memory_.floats(op.input), params + layer.weight_offset, 0.0f,
       output);
  backend_.bias_activation_forward(output, op.pre == kNoBuffer ? nullptr : memory_.floats(op.pre),
                                   params + layer.bias_offset, batch.rows, layer.out, layer.activation, mask);
}

void Executor::backward_linear(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask) {
  const float* params = memory_.floats(plan_.step.params);
  const LinearShape linear = linear_shapes(layer)[0];
  // The weight gradient, followed by the bias gradient.
  float* weight_grad = memory_.floats(op.gradients) + op.gradient_first;
  float* bias_grad = weight_grad + (layer.bias_offset - layer.weight_offset);
  float* grad_output = memory_.floats(op.grad_output);
  if (op.saved != kNoBuffer)
    backend_.activation_backward(grad_output, memory_.floats(op.saved), batch.rows, layer.out, layer.activation,
                                 saved_for_backward(layer) == SavedForBackward::pre_activation, mask);
  const float beta = batch.accumulate ? 1.0f : 0.0f;
  gemm(weight_gradient_gemm(linear, batch.rows), grad_output, memory_.floats(op.input), beta, weight_grad);
  backend_.bias_gradient(grad_output, bias_grad, batch.rows, layer.out, batch.accumulate);
  if (op.grad_input != kNoBuffer)
    gemm(input_gradient_gemm(linear, batch.rows), grad_output, params + layer.weight_offset, 0.0f,
         memory_.floats(op.grad_input));
}

// y = x + Linear2(dropout(act(Linear1(norm(x))))). The norm's output lives in the output buffer
// until the second GEMM overwrites it; the inner activation in the op's scratch.
void Executor::forward_block(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask) {
  const float* params = memory_.floats(plan_.step.params);
  const std::vector<LinearShape> linears = linear_shapes(layer);
  const float* x = memory_.floats(op.input);
  float* y = memory_.floats(op.output);
  float* inner = memory_.floats(op.scratch);
  const float* normed = x;
  if (layer.norm) {
    backend_.layernorm_forward(x, y, op.stats == kNoBuffer ? nullptr : memory_.floats(op.stats),
                               params + layer.norm_weight_offset, params + layer.norm_bias_offset, batch.rows, layer.in,
                               true);
    normed = y;
  }
  gemm(forward_gemm(linears[0], batch.rows), normed, params + layer.weight_offset, 0.0f, inner);
  backend_.bias_activation_forward(inner, op.pre == kNoBuffer ? nullptr : memory_.floats(op.pre),
                                   params + layer.bias_offset, batch.rows, layer.inner, layer.activation, mask);
  gemm(forward_gemm(linears[1], batch.rows), inner, params + layer.weight2_offset, 0.0f, y);
  backend_.bias_residual_forward(y, params + layer.bias2_offset, x, batch.rows, layer.out);
}

// From the tape (the inner pre-activation h, the norm's statistics) and dL/dy in grad_output:
// the norm's output u again (scratch_outer), the inner activation d (scratch), dW2 = g^T d,
// dL/dd = g W2 into scratch, dL/dh in place, dW1 = dh^T u, dL/du = dh W1 (scratch_outer) and the
// norm's backward added to grad_output, which then holds dL/dx (the residual's gradient is g).
// Without a norm, u is x and dL/dx = g + dh W1 is one GEMM with beta = 1 into grad_output.
void Executor::backward_block(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask) {
  const float* params = memory_.floats(plan_.step.params);
  const std::vector<LinearShape> linears = linear_shapes(layer);
  float* unit_grads = memory_.floats(op.gradients) + op.gradient_first;  // the unit's first parameter's gradient
  auto grads = [&](std::size_t param_offset) { return unit_grads + (param_offset - layer.param_offset); };
  const float* x = memory_.floats(op.input);
  const float* h = memory_.floats(op.saved);
  float* g = memory_.floats(op.grad_output);
  float* inner = memory_.floats(op.scratch);
  float* outer = layer.norm ? memory_.floats(op.scratch_outer) : nullptr;
  float* stats = layer.norm ? memory_.floats(op.stats) : nullptr;
  const std::size_t rows = batch.rows;
  const float beta = batch.accumulate ? 1.0f : 0.0f;
  const float* normed = x;
  if (layer.norm) {
    backend_.layernorm_forward(x, outer, stats, params + layer.norm_weight_offset, params + layer.norm_bias_offset, rows,
                               layer.in, false);
    normed = outer;
  }
  backend_.activation_forward(h, inner, rows, layer.inner, layer.activation, mask);
  gemm(weight_gradient_gemm(linears[1], rows), g, inner, beta, grads(layer.weight2_offset));
  backend_.bias_gradient(g, grads(layer.bias2_offset), rows, layer.out, batch.accumulate);
  gemm(input_gradient_gemm(linears[1], rows), g, params + layer.weight2_offset, 0.0f, inner);
  backend_.activation_backward(inner, h, rows, layer.inner, layer.activation, true, mask);
  gemm(weight_gradient_gemm(linears[0], rows), inner, normed, beta, grads(layer.weight_offset));
  backend_.bias_gradient(inner, grads(layer.bias_offset), rows, layer.inner, batch.accumulate);
  if (!layer.norm) {
    gemm(input_gradient_gemm(linears[0], rows), inner, params + layer.weight_offset, 1.0f, g);
    return;
  }
  gemm(input_gradient_gemm(linears[0], rows), inner, params + layer.weight_offset, 0.0f, outer);
  backend_.layernorm_backward(outer, x, stats, params + layer.norm_weight_offset, g, grads(layer.norm_weight_offset),
                              grads(layer.norm_bias_offset), rows, layer.in, batch.accumulate, inner);
}

void Executor::update(const Op& op, std::size_t step) {
  const StepBuffers& s = plan_.step;
  float* params = memory_.floats(s.params);
  const std::size_t first = op.param_first;
  auto state = [&](BufferId id) { return id == kNoBuffer ? nullptr : memory_.floats(id) + first; };
  float* grads = memory_.floats(op.gradients) + op.gradient_first;
  if (plan_.model.optimizer == Optimizer::sgd)
    backend_.sgd_update(params + first, grads, state(s.velocity), op.param_count, optimizer_.sgd);
  else
    backend_.adam_update(params + first, grads, state(s.adam_m), state(s.adam_v), op.param_count, optimizer_.adam, step);
}

}  // namespace egc
