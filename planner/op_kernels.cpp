// op_kernels: an op's backend calls, derived from the plan as the executor derives them.
#include "planner/op_kernels.h"

#include <cstdint>
#include <stdexcept>

namespace egc {
namespace {

std::string activation_variant(Activation activation, bool with_pre) {
  return std::string(to_string(activation)) + (with_pre ? "+pre" : "");
}

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

}  // namespace

std::string KernelCall::cost_key() const {
  return std::string(name_of(kKernelKindNames, kind)) + (variant.empty() ? "" : ":" + variant);
}

std::vector<KernelCall> op_kernels(const Plan& plan, std::size_t index, std::size_t rows) {
  const Op& op = plan.ops.at(index);
  std::vector<KernelCall> calls;
  switch (op.kind) {
    case OpKind::forward:
    case OpKind::recompute: {
      const Layer& layer = plan.chain.layers.at(static_cast<std::size_t>(op.layer));
      calls.push_back(gemm_call(forward_gemm(layer, rows)));
      calls.push_back(call_of(KernelKind::bias_activation, rows * layer.out,
                              activation_variant(layer.activation, op.pre != kNoBuffer)));
      break;
    }
    case OpKind::loss:
      calls.push_back(call_of(KernelKind::mse_loss, rows * plan.chain.out_features));
      break;
    case OpKind::backward: {
      const Layer& layer = plan.chain.layers.at(static_cast<std::size_t>(op.layer));
      if (op.saved != kNoBuffer)
        calls.push_back(call_of(KernelKind::activation_backward, rows * layer.out, to_string(layer.activation)));
      calls.push_back(gemm_call(weight_gradient_gemm(layer, rows)));
      calls.push_back(call_of(KernelKind::bias_gradient, rows * layer.out));
      if (op.grad_input != kNoBuffer) calls.push_back(gemm_call(input_gradient_gemm(layer, rows)));
      break;
    }
    case OpKind::update:
      if (plan.model.optimizer == Optimizer::sgd)
        calls.push_back(call_of(KernelKind::sgd_update, op.param_count, plan.model.sgd_momentum ? "momentum" : "plain"));
      else
        calls.push_back(call_of(KernelKind::adam_update, op.param_count));
      break;
  }
  return calls;
}

std::vector<KernelCall> batch_load_kernels(const Plan& plan, std::size_t rows) {
  return {call_of(KernelKind::copy_to_device, rows * sizeof(std::uint32_t)),
          call_of(KernelKind::gather_rows, rows * plan.chain.in_features),
          call_of(KernelKind::gather_rows, rows * plan.chain.out_features)};
}

std::vector<KernelCall> loss_readback_kernels() { return {call_of(KernelKind::copy_to_host, sizeof(float))}; }

}  // namespace egc
