// The named tensors of the flat parameter buffer, as an equivalent PyTorch module's state_dict
// has them: nn.Sequential's "0.weight", "0.bias", "2.weight", ... for a plain chain ("3.weight"
// for the second Linear with dropout); for a residual model "input.*", "blocks.B.norm.*",
// "blocks.B.fc1.*", "blocks.B.fc2.*", "head.*" (bench/egc_modules.py's ResidualMLP). Each with
// its shape, place and PyTorch's initialisation.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "planner/chain.h"

namespace egc {

// nn.Linear's default: uniform in +-1/sqrt(fan_in), weight and bias; nn.LayerNorm's: ones, zeros.
enum class TensorInit { uniform, ones, zeros };

struct ParameterTensor {
  std::string name;
  std::vector<std::size_t> shape;  // [out, in] for a weight, [features] for a bias or norm
  std::size_t offset = 0;          // floats into the flat parameter buffer
  std::size_t count = 0;
  TensorInit init = TensorInit::uniform;
  std::size_t fan_in = 0;  // uniform: the bound is 1/sqrt(fan_in)
};

// Every tensor in the order of the flat buffer (which is the state_dict's order).
std::vector<ParameterTensor> parameter_tensors(const Chain& chain);

}  // namespace egc
