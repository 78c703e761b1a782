// The kernels a training step launches, as one table: per op of the plan, and per micro-batch
// around the ops (the batch load, the loss read back). The executor and the trainer make exactly
// these backend calls (a CPU test records them), and the time model prices each from a
// DeviceProfile.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "planner/enum_names.h"
#include "planner/gemm_shapes.h"
#include "planner/model_spec.h"
#include "planner/plan.h"

namespace egc {

enum class KernelKind {
  gemm,
  bias_activation,      // bias + activation (+ dropout); variant: the activation, "+pre", "+dropout"
  activation_forward,   // a block's backward rebuilding its activation from the tape; a derive op
  activation_backward,  // variant: the activation, "+pre" (from the pre-activation), "+dropout"
  bias_residual,        // a block's epilogue: bias and the residual added
  layernorm_forward,    // variant: "compute" (statistics from x) or "from-stats" (from the tape)
  layernorm_backward,
  bias_gradient,        // column sums
  mse_loss,
  cross_entropy_loss,   // units: rows x classes
  sgd_update,
  adam_update,
  gather_rows,
  copy_to_device,       // units: bytes
  copy_to_host,         // units: bytes
};
inline constexpr EnumName<KernelKind> kKernelKindNames[] = {
    {KernelKind::gemm, "gemm"},
    {KernelKind::bias_activation, "bias_activation"},
    {KernelKind::activation_forward, "activation_forward"},
    {KernelKind::activation_backward, "activation_backward"},
    {KernelKind::bias_residual, "bias_residual"},
    {KernelKind::layernorm_forward, "layernorm_forward"},
    {KernelKind::layernorm_backward, "layernorm_backward"},
    {KernelKind::bias_gradient, "bias_gradient"},
    {KernelKind::mse_loss, "mse_loss"},
    {KernelKind::cross_entropy_loss, "cross_entropy_loss"},
    {KernelKind::sgd_update, "sgd_update"},
    {KernelKind::adam_update, "adam_update"},
    {KernelKind::gather_rows, "gather_rows"},
    {KernelKind::copy_to_device, "copy_to_device"},
    {KernelKind::copy_to_host, "copy_to_host"}};
static_assert(names_in_order(kKernelKindNames) && count_of(kKernelKindNames) == 1 + int(KernelKind::copy_to_host));

struct KernelCall {
  KernelKind kind = KernelKind::gemm;
  // What the cost depends on besides the size: the activation ("relu", "gelu+pre+dropout"), the
  // update ("momentum", "plain"), the LayerNorm's statistics; empty where nothing does.
  std::string variant;
  GemmShape gemm;         // gemm only
  std::size_t units = 0;  // elements (parameters for updates, bytes for copies); gemm: 0
  // The profile's key for this kernel's cost: "bias_activation:gelu+pre", "bias_gradient", ...
  std::string cost_key() const;
};

// The calls of op `index` of `plan` for a training micro-batch of `rows` rows (dropout on), in the
// order the executor makes them.
std::vector<KernelCall> op_kernels(const Plan& plan, std::size_t index, std::size_t rows);

// The variant of an activation kernel: "relu", "gelu+pre", "tanh+dropout", ...
std::string activation_variant(Activation activation, bool with_pre, bool dropout);

// Per micro-batch outside the ops: the batch's row indices to the device, the two gathers of its
// inputs and targets from the resident dataset; after it, the loss read back.
std::vector<KernelCall> batch_load_kernels(const Plan& plan, std::size_t rows);
std::vector<KernelCall> loss_readback_kernels(const Plan& plan);

}  // namespace egc
