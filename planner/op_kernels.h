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
  bias_activation,      // bias + activation; `variant` says whether the pre-activation is kept
  activation_backward,
  bias_gradient,        // column sums
  mse_loss,
  sgd_update,
  adam_update,
  gather_rows,
  copy_to_device,       // units: bytes
  copy_to_host,         // units: bytes
};
inline constexpr EnumName<KernelKind> kKernelKindNames[] = {
    {KernelKind::gemm, "gemm"},
    {KernelKind::bias_activation, "bias_activation"},
    {KernelKind::activation_backward, "activation_backward"},
    {KernelKind::bias_gradient, "bias_gradient"},
    {KernelKind::mse_loss, "mse_loss"},
    {KernelKind::sgd_update, "sgd_update"},
    {KernelKind::adam_update, "adam_update"},
    {KernelKind::gather_rows, "gather_rows"},
    {KernelKind::copy_to_device, "copy_to_device"},
    {KernelKind::copy_to_host, "copy_to_host"}};
static_assert(names_in_order(kKernelKindNames) && count_of(kKernelKindNames) == 1 + int(KernelKind::copy_to_host));

struct KernelCall {
  KernelKind kind = KernelKind::gemm;
  // What the cost depends on besides the size: the activation ("relu", "gelu+pre"), the update
  // ("momentum", "plain"); empty where nothing does.
  std::string variant;
  GemmShape gemm;         // gemm only
  std::size_t units = 0;  // elements (parameters for updates, bytes for copies); gemm: 0
  // The profile's key for this kernel's cost: "bias_activation:gelu+pre", "bias_gradient", ...
  std::string cost_key() const;
};

// The calls of op `index` of `plan` for a micro-batch of `rows` rows, in the order the executor
// makes them. `accumulate`: the gradients of an earlier micro-batch are added to (beta = 1).
std::vector<KernelCall> op_kernels(const Plan& plan, std::size_t index, std::size_t rows);

// Per micro-batch outside the ops: the batch's row indices to the device, the two gathers of its
// inputs and targets from the resident dataset; after it, the loss read back.
std::vector<KernelCall> batch_load_kernels(const Plan& plan, std::size_t rows);
std::vector<KernelCall> loss_readback_kernels();

}  // namespace egc
