// Executor: op -> backend calls.
#include "runtime/executor.h"

#include <stdexcept>

namespace egc {

Executor::Executor(const Plan& plan, Backend& backend, StepMemory& memory, const OptimizerSettings& optimizer)
    : plan_(plan), backend_(backend), memory_(memory), optimizer_(optimizer) {
  update_op_ = plan.ops.size() - 1;
  if (plan.ops.empty() || plan.ops[update_op_].kind != OpKind::update)
    throw std::logic_error("executor: the plan does not end with its update");
  loss_op_ = plan.loss_op();
}

void Executor::run_micro_batch(const MicroBatch& batch) {
  for (std::size_t op = 0; op < update_op_; ++op) run_op(op, batch, 0);
}

void Executor::run_update(std::size_t step) { run_op(update_op_, MicroBatch{}, step); }

void Executor::run_forward_and_loss(std::size_t rows) {
  const MicroBatch batch{rows, false, 1.0f};
  for (std::size_t op = 0; op <= loss_op_; ++op)
    if (plan_.ops[op].kind != OpKind::recompute) run_op(op, batch, 0);
  memory_.release_transients();
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
      backend_.gemm(false, true, batch.rows, layer.out, layer.in, memory_.floats(op.input),
                    params + layer.weight_offset, 0.0f, output);
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
      float* grads = memory_.floats(s.grads);
      float* grad_output = memory_.floats(op.grad_output);
      if (op.saved != kNoBuffer)
        backend_.activation_backward(grad_output, memory_.floats(op.saved), batch.rows, layer.out, layer.activation);
      const float beta = batch.accumulate ? 1.0f : 0.0f;
      backend_.gemm(true, false, layer.out, layer.in, batch.rows, grad_output, memory_.floats(op.input), beta,
                    grads + layer.weight_offset);
      backend_.bias_gradient(grad_output, grads + layer.bias_offset, batch.rows, layer.out, batch.accumulate);
      if (op.grad_input != kNoBuffer)
        backend_.gemm(false, false, batch.rows, layer.in, layer.out, grad_output, params + layer.weight_offset,
                      0.0f, memory_.floats(op.grad_input));
      break;
    }
    case OpKind::update:
      if (plan_.model.optimizer == Optimizer::sgd) {
        backend_.sgd_update(params, memory_.floats(s.grads),
                            s.velocity == kNoBuffer ? nullptr : memory_.floats(s.velocity), plan_.chain.param_count,
                            optimizer_.sgd);
      } else {
        backend_.adam_update(params, memory_.floats(s.grads), memory_.floats(s.adam_m), memory_.floats(s.adam_v),
                             plan_.chain.param_count, optimizer_.adam, step);
      }
      break;
  }
  if (hook_) hook_(index, true);
  memory_.after_op(index);
}

}  // namespace egc
