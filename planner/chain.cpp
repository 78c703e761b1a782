// build_chain: per-layer sizes, FLOPs and parameter offsets from a ModelSpec.
#include "planner/chain.h"

#include "planner/units.h"

namespace egc {

Chain build_chain(const ModelSpec& spec) {
  validate(spec);
  Chain chain;
  chain.batch = spec.batch;
  chain.in_features = spec.in_features;
  chain.out_features = spec.out_features;
  std::vector<std::size_t> widths = spec.hidden_widths;
  widths.push_back(spec.out_features);
  std::size_t in = spec.in_features;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    Layer layer;
    layer.index = i;
    layer.in = in;
    layer.out = widths[i];
    layer.activation = i + 1 == widths.size() ? Activation::identity : spec.activation;
    layer.weight_offset = offset;
    layer.bias_offset = checked_add(offset, checked_mul(layer.out, layer.in, "weight size"), "parameters");
    offset = checked_add(layer.bias_offset, layer.out, "parameters");
    const std::size_t outputs = checked_mul(spec.batch, layer.out, "activation size");
    layer.output_bytes = checked_mul(outputs, kFloatBytes, "activation bytes");
    const std::size_t gemm = checked_mul(checked_mul(outputs, layer.in, "forward FLOPs"), 2, "forward FLOPs");
    const std::size_t elementwise = layer.activation == Activation::identity ? outputs : 2 * outputs;
    layer.forward_flops = checked_add(gemm, elementwise, "forward FLOPs");
    layer.backward_gemm_flops = i == 0 ? gemm : checked_mul(gemm, 2, "backward FLOPs");
    chain.layers.push_back(layer);
    in = layer.out;
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
