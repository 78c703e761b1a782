// parameter_tensors: the state_dict names, shapes and places of a chain's parameters.
#include "planner/parameter_tensors.h"

namespace egc {
namespace {

void add_linear(std::vector<ParameterTensor>& tensors, const std::string& prefix, const LinearShape& shape,
                std::size_t weight_offset, std::size_t bias_offset) {
  tensors.push_back({prefix + "weight", {shape.out, shape.in}, weight_offset, shape.out * shape.in,
                     TensorInit::uniform, shape.in});
  tensors.push_back({prefix + "bias", {shape.out}, bias_offset, shape.out, TensorInit::uniform, shape.in});
}

}  // namespace

std::vector<ParameterTensor> parameter_tensors(const Chain& chain) {
  bool residual = false, dropout = false;
  for (const Layer& layer : chain.layers) {
    residual = residual || layer.kind == UnitKind::residual_block;
    dropout = dropout || layer.dropout;
  }
  // nn.Sequential: Linear i is module 2i (an activation after each hidden one), 3i with Dropout.
  const std::size_t modules_per_layer = dropout ? 3 : 2;
  std::vector<ParameterTensor> tensors;
  for (const Layer& layer : chain.layers) {
    const std::vector<LinearShape> linears = linear_shapes(layer);
    if (!residual) {
      add_linear(tensors, std::to_string(modules_per_layer * layer.index) + ".", linears[0], layer.weight_offset,
                 layer.bias_offset);
      continue;
    }
    if (layer.kind == UnitKind::linear) {
      add_linear(tensors, layer.index == 0 ? "input." : "head.", linears[0], layer.weight_offset, layer.bias_offset);
      continue;
    }
    const std::string block = "blocks." + std::to_string(layer.index - 1) + ".";
    if (layer.norm) {
      tensors.push_back({block + "norm.weight", {layer.in}, layer.norm_weight_offset, layer.in, TensorInit::ones, 0});
      tensors.push_back({block + "norm.bias", {layer.in}, layer.norm_bias_offset, layer.in, TensorInit::zeros, 0});
    }
    add_linear(tensors, block + "fc1.", linears[0], layer.weight_offset, layer.bias_offset);
    add_linear(tensors, block + "fc2.", linears[1], layer.weight2_offset, layer.bias2_offset);
  }
  return tensors;
}

}  // namespace egc
