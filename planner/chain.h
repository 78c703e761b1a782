// Chain: the MLP as the planner sees it, a sequence of units (plain layers, or an input projection,
// residual blocks and a head) with their tensor sizes, forward FLOPs, what each one's backward
// needs, and the place of their parameters in the one flat parameter buffer.
#pragma once

#include <cstddef>
#include <vector>

#include "planner/model_spec.h"

namespace egc {

constexpr std::size_t kFloatBytes = 4;

// linear: Linear(in, out) + activation (+ dropout): a plain hidden layer, the output layer, a
// residual model's input projection and head. residual_block: x + Linear2(drop(act(Linear1(
// LayerNorm(x))))) with in = out = width and Linear1's output `inner` = expand x width wide.
enum class UnitKind { linear, residual_block };

// Where a unit's backward finds what it needs of the unit besides its input: nothing (identity),
// its output (relu, tanh: the derivative is a function of the output), or a tape the forward
// writes beside the output (GELU's pre-activation; a block's inner pre-activation and LayerNorm
// statistics), which the forward keeps only when asked to (ScheduleCall::keep_tape).
enum class SavedForBackward { nothing, output, pre_activation };

struct Layer {
  std::size_t index = 0;
  UnitKind kind = UnitKind::linear;
  std::size_t in = 0;   // input features
  std::size_t out = 0;  // output features
  Activation activation = Activation::identity;  // identity for the output layer and a projection
  bool dropout = false;   // dropout after the activation (hidden layers, and inside every block)
  std::size_t inner = 0;  // residual_block: Linear1's output width (expand x width)
  bool norm = false;      // residual_block: LayerNorm before Linear1
  // Where the unit's tensors start in the flat parameter buffer, in floats. PyTorch's layout
  // (state_dict order): linear: weight [out, in] row-major, then bias [out]; residual_block:
  // norm weight [in], norm bias [in] (with norm), Linear1 weight [inner, in], bias [inner],
  // Linear2 weight [out, inner], bias [out]. Units follow each other with no padding, so one
  // fused optimizer kernel can sweep all parameters and a unit's parameters are contiguous.
  std::size_t param_offset = 0;
  std::size_t params = 0;
  std::size_t weight_offset = 0;   // linear: its weight; block: Linear1's
  std::size_t bias_offset = 0;
  std::size_t weight2_offset = 0;  // block: Linear2's weight and bias
  std::size_t bias2_offset = 0;
  std::size_t norm_weight_offset = 0;  // block with norm: LayerNorm's weight (gamma) and bias (beta)
  std::size_t norm_bias_offset = 0;
  std::size_t output_bytes = 0;  // batch x out floats: the unit's output (and its gradient)
  std::size_t inner_bytes = 0;   // block: batch x inner floats (the pre-activation, the scratch)
  std::size_t stats_bytes = 0;   // block with norm: batch x 2 floats (mean and 1/std per row)
  // Forward FLOPs: 2*batch*in*out per GEMM, + batch*width per bias, activation, dropout,
  // residual add, and 8*batch*width for a LayerNorm (mean, variance, normalise, scale, shift).
  std::size_t forward_flops = 0;
  // The backward's GEMMs: 2*batch*in*out for each weight gradient, as much again for each input
  // gradient but at unit 0 (its input is the data, which needs none).
  std::size_t backward_gemm_flops = 0;
  std::size_t param_count() const { return params; }
};

SavedForBackward saved_for_backward(const Layer& layer);
// Whether the unit's output is a pointwise function of its separate tape: a linear unit whose
// backward needs its pre-activation (GELU; tanh with dropout). Its output can then be dropped and
// re-derived from a kept pre-activation where read (op-level recomputation, ScheduleBuilder::derive).
bool output_derivable(const Layer& layer);

// The Linear maps of a unit, in forward order: one for a linear unit, Linear1 and Linear2 of a
// block (what GEMM shapes and the backends' scratch are sized by).
struct LinearShape {
  std::size_t in = 0;
  std::size_t out = 0;
};
std::vector<LinearShape> linear_shapes(const Layer& layer);

struct Chain {
  std::vector<Layer> layers;  // the units, first to last (the output layer or head last)
  std::size_t batch = 0;
  std::size_t in_features = 0;
  std::size_t out_features = 0;
  std::size_t target_columns = 0;  // columns of target per row (ModelSpec::target_columns)
  LossKind loss = LossKind::mse;
  std::size_t param_count = 0;  // floats in the flat parameter buffer
  std::size_t size() const { return layers.size(); }
  std::size_t backward_gemm_flops() const;  // of every layer
};

// Throws UsageError (via validate) on zero sizes or byte counts that overflow 64 bits.
Chain build_chain(const ModelSpec& spec);

}  // namespace egc
