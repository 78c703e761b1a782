// Model parameters in the safetensors format, named and shaped as the equivalent PyTorch module's
// state_dict has them (planner/parameter_tensors.h: nn.Sequential's "0.weight" [out, in],
// "0.bias", "2.weight", ... for a plain chain, ResidualMLP's names for a residual one), so that
// model.load_state_dict(safetensors.torch.load_file(FILE), strict=True) works.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "planner/chain.h"
#include "runtime/safetensors_reader.h"

namespace egc {

// One tensor to write: its bytes are `shape` elements of `dtype` ("F32", "I64", ...), little-endian.
struct TensorView {
  std::string name;
  std::string dtype;
  std::vector<std::size_t> shape;
  const void* data = nullptr;
  std::size_t bytes = 0;
};

// Writes the tensors in order, atomically; UsageError naming `flag` when the path cannot be written.
// `metadata` is added to the header's "__metadata__" after "format" and "producer".
void write_safetensors(const std::string& path, const std::string& flag, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The chain's parameters as tensors named and shaped as in PyTorch (views into `params`).
std::vector<TensorView> parameter_views(const Chain& chain, const std::vector<float>& params);

// Writes atomically; UsageError naming `flag` when the path cannot be written.
void save_safetensors(const std::string& path, const Chain& chain, const std::vector<float>& params,
                      const std::string& flag = "--save");

// UsageError naming `flag` for a missing, corrupt or truncated file, a missing or unexpected
// tensor, a dtype other than F32, or a shape that does not match the chain. Tensors named
// "egc.*" (a --checkpoint's training state) are not parameters and are passed over.
std::vector<float> load_safetensors(const std::string& path, const Chain& chain, const std::string& flag = "--load");

// The chain's parameters out of a parsed file, checked as load_safetensors checks them.
std::vector<float> parameters_from(const SafetensorsFile& file, const Chain& chain);

}  // namespace egc
