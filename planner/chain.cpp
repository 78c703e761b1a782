// build_chain: per-unit sizes, FLOPs and parameter offsets from a ModelSpec.
#include "planner/chain.h"

#include "planner/units.h"

namespace egc {

SavedForBackward saved_for_backward(const Layer& layer) {
  if (layer.kind == UnitKind::residual_block) return SavedForBackward::pre_activation;
  switch (layer.activation) {
    case Activation::identity: return SavedForBackward::nothing;
    case Activation::gelu: return SavedForBackward::pre_activation;
    // relu' is a function of the dropped output too (d > 0 exactly where the unit kept a positive
    // value); tanh' = 1 - a^2 needs a itself, which dropout's scaling does not give back exactly.
    case Activation::relu: return SavedForBackward::output;
    case Activation::tanh: return layer.dropout ? SavedForBackward::pre_activation : SavedForBackward::output;
  }
  return SavedForBackward::nothing;
}

bool output_derivable(const Layer& layer) {
  return layer.kind == UnitKind::linear && saved_for_backward(layer) == SavedForBackward::pre_activation;
}

std::vector<LinearShape> linear_shapes(const Layer& layer) {
  if (layer.kind == UnitKind::residual_block) return {{layer.in, layer.inner}, {layer.inner, layer.out}};
  return {{layer.in, layer.out}};
}

namespace {

// A Linear(in, out) + activation unit at parameter offset `offset`; returns the next offset.
std::size_t add_linear(Chain& chain, const ModelSpec& spec, std::size_t in, std::size_t out, Activation activation,
                       bool dropout, std::size_t offset) {
  Layer layer;
  layer.index = chain.layers.size();
  layer.in = in;
  layer.out = out;
  layer.activation = activation;
  layer.dropout = dropout;
  layer.param_offset = layer.weight_offset = offset;
  layer.bias_offset = checked_add(offset, checked_mul(out, in, "weight size"), "parameters");
  layer.params = checked_add(checked_mul(out, in, "weight size"), out, "parameters");
  const std::size_t outputs = checked_mul(spec.batch, out, "activation size");
  layer.output_bytes = checked_mul(outputs, kFloatBytes, "activation bytes");
  const std::size_t gemm = checked_mul(checked_mul(outputs, in, "forward FLOPs"), 2, "forward FLOPs");
  const std::size_t elementwise =
      (activation == Activation::identity ? outputs : 2 * outputs) + (dropout ? outputs : 0);
  layer.forward_flops = checked_add(gemm, elementwise, "forward FLOPs");
  layer.backward_gemm_flops = layer.index == 0 ? gemm : checked_mul(gemm, 2, "backward FLOPs");
  chain.layers.push_back(layer);
  return checked_add(offset, layer.params, "parameters");
}

// A residual block of `width`, inner width expand x width; returns the next parameter offset.
std::size_t add_block(Chain& chain, const ModelSpec& spec, std::size_t width, std::size_t offset) {
  Layer layer;
  layer.index = chain.layers.size();
  layer.kind = UnitKind::residual_block;
  layer.in = layer.out = width;
  layer.inner = checked_mul(width, spec.expand, "--width x --expand");
  layer.activation = spec.activation;
  layer.dropout = spec.dropout > 0;
  layer.norm = spec.norm == Norm::layernorm;
  layer.param_offset = offset;
  if (layer.norm) {
    layer.norm_weight_offset = offset;
    layer.norm_bias_offset = offset + width;
    offset = checked_add(offset, 2 * width, "parameters");
  }
  const std::size_t weights = checked_mul(layer.inner, width, "weight size");
  layer.weight_offset = offset;
  layer.bias_offset = checked_add(offset, weights, "parameters");
  layer.weight2_offset = checked_add(layer.bias_offset, layer.inner, "parameters");
  layer.bias2_offset = checked_add(layer.weight2_offset, weights, "parameters");
  const std::size_t end = checked_add(layer.bias2_offset, width, "parameters");
  layer.params = end - layer.param_offset;
  const std::size_t outputs = checked_mul(spec.batch, width, "activation size");
  const std::size_t inner = checked_mul(spec.batch, layer.inner, "activation size");
  layer.output_bytes = checked_mul(outputs, kFloatBytes, "activation bytes");
  layer.inner_bytes = checked_mul(inner, kFloatBytes, "activation bytes");
  layer.stats_bytes = layer.norm ? checked_mul(spec.batch, 2 * kFloatBytes, "statistics bytes") : 0;
  const std::size_t gemm = checked_mul(checked_mul(inner, width, "forward FLOPs"), 2, "forward FLOPs");
  std::size_t flops = checked_add(checked_mul(gemm, 2, "forward FLOPs"), 2 * inner + 2 * outputs, "forward FLOPs");
  if (layer.dropout) flops = checked_add(flops, inner, "forward FLOPs");
  if (layer.norm) flops = checked_add(flops, checked_mul(outputs, 8, "forward FLOPs"), "forward FLOPs");
  layer.forward_flops = flops;
  layer.backward_gemm_flops = checked_mul(gemm, 4, "backward FLOPs");
  chain.layers.push_back(layer);
  return end;
}

}  // namespace

Chain build_chain(const ModelSpec& spec) {
  validate(spec);
  Chain chain;
  chain.batch = spec.batch;
  chain.in_features = spec.in_features;
  chain.out_features = spec.out_features;
  chain.target_columns = spec.target_columns();
  chain.loss = spec.loss;
  const bool dropout = spec.dropout > 0;
  std::size_t offset = 0;
  if (spec.block == BlockKind::residual) {
    const std::size_t width = spec.hidden_widths.front();
    offset = add_linear(chain, spec, spec.in_features, width, Activation::identity, false, offset);
    for (std::size_t b = 0; b < spec.hidden_widths.size(); ++b) offset = add_block(chain, spec, width, offset);
    offset = add_linear(chain, spec, width, spec.out_features, Activation::identity, false, offset);
  } else {
    std::size_t in = spec.in_features;
    for (std::size_t width : spec.hidden_widths) {
      offset = add_linear(chain, spec, in, width, spec.activation, dropout, offset);
      in = width;
    }
    offset = add_linear(chain, spec, in, spec.out_features, Activation::identity, false, offset);
  }
  chain.param_count = offset;
  checked_mul(offset, 4 * kFloatBytes, "parameter, gradient and optimizer bytes");
  return chain;
}

std::size_t Chain::backward_gemm_flops() const {
  std::size_t flops = 0;
  for (const Layer& layer : layers) flops = checked_add(flops, layer.backward_gemm_flops, "backward FLOPs");
  return flops;
}

}  // namespace egc
