// Executor: walks plan.ops and calls the backend. It resolves buffers through StepMemory and
// decides nothing the plan decided: which layer runs, in which order, from which buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "planner/plan.h"
#include "runtime/backend.h"
#include "planner/gemm_shapes.h"
#include "runtime/step_memory.h"

namespace egc {

struct OptimizerSettings {
  SgdSettings sgd;
  AdamSettings adam;
};

// One pass over the ops up to the update: `rows` <= batch samples are in the batch buffers.
struct MicroBatch {
  std::size_t rows = 0;
  bool accumulate = false;  // add to the gradients of an earlier micro-batch of the same step
  float loss_scale = 1.0f;  // 1/K with --accumulate K: the K gradients sum to the mean's
  // Dropout (ModelSpec::dropout): unit j's mask is keyed by (dropout_seed, step, micro, j)
  // (kernels/dropout.h), so every recompute and backward of the micro-batch draws it again.
  std::size_t micro = 0;
  std::uint64_t dropout_seed = 0;
  bool training = true;  // evaluation runs without dropout and without the copy ops
};

class Executor {
 public:
  // Called before (after == false) and after each op, e.g. to sample device memory.
  using OpHook = std::function<void(std::size_t op, bool after)>;

  Executor(const Plan& plan, Backend& backend, StepMemory& memory, const OptimizerSettings& optimizer);

  // Every op but a final update of all parameters: forward, recompute, loss, backward, and the
  // per-layer updates where the plan has them. `step` counts optimizer steps from 1 (Adam's
  // bias correction).
  void run_micro_batch(const MicroBatch& batch, std::size_t step);
  // The final update of all parameters, where the plan has one (StepContext::single_update).
  void run_update(std::size_t step);
  // The forward pass and the loss only (evaluation); the gradients are not touched.
  // Releases what per-buffer mode still holds afterwards.
  void run_forward_and_loss(std::size_t rows);

  void set_hook(OpHook hook) { hook_ = std::move(hook); }
  const OpHook& hook() const { return hook_; }
  const Plan& plan() const { return plan_; }
  StepMemory& memory() { return memory_; }

 private:
  void run_op(std::size_t index, const MicroBatch& batch, std::size_t step);
  void forward_linear(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask);
  void backward_linear(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask);
  void forward_block(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask);
  void backward_block(const Op& op, const Layer& layer, const MicroBatch& batch, const DropoutMask& mask);
  void update(const Op& op, std::size_t step);
  DropoutMask dropout_of(const Layer& layer, const MicroBatch& batch, std::size_t step) const;
  void gemm(const GemmShape& shape, const float* a, const float* b, float beta, float* c);
  void copy(std::size_t index, const Op& op);

  const Plan& plan_;
  Backend& backend_;
  StepMemory& memory_;
  OptimizerSettings optimizer_;
  OpHook hook_;
  std::size_t end_of_micro_batch_ = 0;  // ops [0, end) run per micro-batch; a final update follows
  std::size_t loss_op_ = 0;
  // Per op: the copies (by op index) it waits for, as the plan's events state; the last entry
  // (one past the ops) holds the copies nothing in the step waits for, waited at its end.
  std::vector<std::vector<std::size_t>> copy_waits_;
};

}  // namespace egc
