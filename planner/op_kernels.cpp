// op_kernels: an op's backend calls, derived from the plan as the executor derives them
// (runtime/executor.cpp: forward_linear, backward_linear, forward_block, backward_block, derive).
#include "planner/op_kernels.h"

#include <cstdint>
#include <stdexcept>

namespace egc {
namespace {

KernelCall gemm_call(const GemmShape& shape) {
  KernelCall call;
  call.kind = KernelKind::gemm;
  call.gemm = shape;
  return call;
}

KernelCall call_of(KernelKind kind, std::size_t units, std::string variant = "") {
  KernelCall call;
  call.kind = kind;
  call.units = units;
  call.variant = std::move(variant);
  return call;
}

bool drops(const Plan& plan, const Layer& layer) { return layer.dropout && plan.model.dropout > 0; }

std::vector<KernelCall> forward_kernels(const Plan& plan, const Op& op, const Layer& layer, std::size_t rows) {
  const std::vector<LinearShape> linears = linear_shapes(layer);
  const bool dropout = drops(plan, layer);
  if (layer.kind != UnitKind::residual_block)
    return {gemm_call(forward_gemm(linears[0], rows)),
            call_of(KernelKind::bias_activation, rows * layer.out,
                    activation_variant(layer.activation, op.pre != kNoBuffer, dropout))};
  std::vector<KernelCall> calls;
  if (layer.norm) calls.push_back(call_of(KernelKind::layernorm_forward, rows * layer.in, "compute"));
  calls.push_back(gemm_call(forward_gemm(linears[0], rows)));
  calls.push_back(call_of(KernelKind::bias_activation, rows * layer.inner,
                          activation_variant(layer.activation, op.pre != kNoBuffer, dropout)));
  calls.push_back(gemm_call(forward_gemm(linears[1], rows)));
  calls.push_back(call_of(KernelKind::bias_residual, rows * layer.out));
  return calls;
}

std::vector<KernelCall> backward_linear_kernels(const Plan& plan, const Op& op, const Layer& layer, std::size_t rows) {
  const LinearShape linear = linear_shapes(layer)[0];
  std::vector<KernelCall> calls;
  if (op.saved != kNoBuffer)
    calls.push_back(call_of(KernelKind::activation_backward, rows * layer.out,
                            activation_variant(layer.activation,
                                               saved_for_backward(layer) == SavedForBackward::pre_activation,
                                               drops(plan, layer))));
  calls.push_back(gemm_call(weight_gradient_gemm(linear, rows)));
  calls.push_back(call_of(KernelKind::bias_gradient, rows * layer.out));
  if (op.grad_input != kNoBuffer) calls.push_back(gemm_call(input_gradient_gemm(linear, rows)));
  return calls;
}

std::vector<KernelCall> backward_block_kernels(const Plan& plan, const Layer& layer, std::size_t rows) {
  const std::vector<LinearShape> linears = linear_shapes(layer);
  const bool dropout = drops(plan, layer);
  std::vector<KernelCall> calls;
  if (layer.norm) calls.push_back(call_of(KernelKind::layernorm_forward, rows * layer.in, "from-stats"));
  calls.push_back(call_of(KernelKind::activation_forward, rows * layer.inner,
                          activation_variant(layer.activation, false, dropout)));
  calls.push_back(gemm_call(weight_gradient_gemm(linears[1], rows)));
  calls.push_back(call_of(KernelKind::bias_gradient, rows * layer.out));
  calls.push_back(gemm_call(input_gradient_gemm(linears[1], rows)));
  calls.push_back(call_of(KernelKind::activation_backward, rows * layer.inner,
                          activation_variant(layer.activation, true, dropout)));
  calls.push_back(gemm_call(weight_gradient_gemm(linears[0], rows)));
  calls.push_back(call_of(KernelKind::bias_gradient, rows * layer.inner));
  calls.push_back(gemm_call(input_gradient_gemm(linears[0], rows)));
  if (layer.norm) calls.push_back(call_of(KernelKind::layernorm_backward, rows * layer.in));
  return calls;
}

}  // namespace

std::string activation_variant(Activation activation, bool with_pre, bool dropout) {
  return std::string(to_string(activation)) + (with_pre ? "+pre" : "") + (dropout ? "+dropout" : "");
}

std::string KernelCall::cost_key() const {
  return std::string(name_of(kKernelKindNames, kind)) + (variant.empty() ? "" : ":" + variant);
}

std::vector<KernelCall> op_kernels(const Plan& plan, std::size_t index, std::size_t rows) {
  const Op& op = plan.ops.at(index);
  switch (op.kind) {
    case OpKind::forward:
    case OpKind::recompute:
      return forward_kernels(plan, op, plan.chain.layers.at(static_cast<std::size_t>(op.layer)), rows);
    case OpKind::backward: {
      const Layer& layer = plan.chain.layers.at(static_cast<std::size_t>(op.layer));
      return layer.kind == UnitKind::residual_block ? backward_block_kernels(plan, layer, rows)
                                                    : backward_linear_kernels(plan, op, layer, rows);
    }
    case OpKind::loss:
      return {plan.chain.loss == LossKind::cross_entropy
                  ? call_of(KernelKind::cross_entropy_loss, rows * plan.chain.out_features)
                  : call_of(KernelKind::mse_loss, rows * plan.chain.out_features)};
    case OpKind::derive: {
      const Layer& layer = plan.chain.layers.at(static_cast<std::size_t>(op.layer));
      return {call_of(KernelKind::activation_forward, rows * layer.out,
                      activation_variant(layer.activation, false, drops(plan, layer)))};
    }
    case OpKind::update:
      if (plan.model.optimizer == Optimizer::sgd)
        return {call_of(KernelKind::sgd_update, op.param_count, plan.model.sgd_momentum ? "momentum" : "plain")};
      return {call_of(KernelKind::adam_update, op.param_count)};
    case OpKind::offload: return {call_of(KernelKind::copy_to_host, plan.buffers.at(op.input).bytes)};
    case OpKind::prefetch: return {call_of(KernelKind::copy_to_device, plan.buffers.at(op.input).bytes)};
  }
  throw std::logic_error("op_kernels: unknown op kind");
}

std::vector<KernelCall> batch_load_kernels(const Plan& plan, std::size_t rows) {
  return {call_of(KernelKind::copy_to_device, rows * sizeof(std::uint32_t)),
          call_of(KernelKind::gather_rows, rows * plan.chain.in_features),
          call_of(KernelKind::gather_rows, rows * plan.chain.target_columns)};
}

std::vector<KernelCall> loss_readback_kernels(const Plan& plan) {
  // The loss, and with cross-entropy the count of rows classified right beside it.
  return {call_of(KernelKind::copy_to_host, (plan.chain.loss == LossKind::cross_entropy ? 2 : 1) * sizeof(float))};
}

}  // namespace egc
