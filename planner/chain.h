// Chain: the MLP as the planner sees it, a sequence of layers with their tensor sizes,
// forward FLOPs and the place of their parameters in the one flat parameter buffer.
#pragma once

#include <cstddef>
#include <vector>

#include "planner/model_spec.h"

namespace egc {

constexpr std::size_t kFloatBytes = 4;

struct Layer {
  std::size_t index = 0;
  std::size_t in = 0;   // input features
  std::size_t out = 0;  // output features
  Activation activation = Activation::identity;  // identity for the output layer
  // Where this layer's tensors start in the flat parameter buffer, in floats. PyTorch's layout:
  // weight [out, in] row-major, then bias [out]; layers follow each other with no padding,
  // so one fused optimizer kernel can sweep all parameters.
  std::size_t weight_offset = 0;
  std::size_t bias_offset = 0;
  std::size_t output_bytes = 0;   // batch x out floats: the layer's output (and pre-activation)
  std::size_t forward_flops = 0;  // 2*batch*in*out for the GEMM, + batch*out for bias, + activation
  // The backward's GEMMs: 2*batch*in*out for the weight gradient, as much again for the input
  // gradient but at layer 0 (its input is the data, which needs none).
  std::size_t backward_gemm_flops = 0;
  std::size_t param_count() const { return out * in + out; }
};

struct Chain {
  std::vector<Layer> layers;  // hidden layers (with activation) then the output layer (identity)
  std::size_t batch = 0;
  std::size_t in_features = 0;
  std::size_t out_features = 0;
  std::size_t param_count = 0;  // floats in the flat parameter buffer
  std::size_t size() const { return layers.size(); }
  std::size_t backward_gemm_flops() const;  // of every layer

};

// Throws UsageError (via validate) on zero sizes or byte counts that overflow 64 bits.
Chain build_chain(const ModelSpec& spec);

}  // namespace egc
