// safetensors: 8-byte little-endian header length, JSON header, raw little-endian data.
#include "runtime/safetensors.h"

#include <cstdint>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "planner/errors.h"
#include "planner/parameter_tensors.h"
#include "runtime/atomic_file.h"

namespace egc {

void write_safetensors(const std::string& path, const std::string& flag, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}, {"producer", "egc"}};
  for (const auto& [key, value] : metadata) header["__metadata__"][key] = value;
  std::size_t position = 0;
  for (const TensorView& tensor : tensors) {
    header[tensor.name] = {{"dtype", tensor.dtype}, {"shape", tensor.shape}, {"data_offsets", {position, position + tensor.bytes}}};
    position += tensor.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  write_file_atomically(path, flag, [&](std::ostream& out) {
    const std::uint64_t length = text.size();
    unsigned char length_bytes[8];
    for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<unsigned char>(length >> (8 * i));
    out.write(reinterpret_cast<const char*>(length_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorView& tensor : tensors)
      out.write(static_cast<const char*>(tensor.data), static_cast<std::streamsize>(tensor.bytes));
  });
}

std::vector<TensorView> parameter_views(const Chain& chain, const std::vector<float>& params) {
  std::vector<TensorView> tensors;
  for (const ParameterTensor& slot : parameter_tensors(chain))
    tensors.push_back({slot.name, "F32", slot.shape, params.data() + slot.offset, slot.count * sizeof(float)});
  return tensors;
}

void save_safetensors(const std::string& path, const Chain& chain, const std::vector<float>& params,
                      const std::string& flag) {
  write_safetensors(path, flag, parameter_views(chain, params));
}

std::vector<float> load_safetensors(const std::string& path, const Chain& chain, const std::string& flag) {
  return parameters_from(read_safetensors(path, flag), chain);
}

std::vector<float> parameters_from(const SafetensorsFile& file, const Chain& chain) {
  std::vector<float> params(chain.param_count);
  std::set<std::string> expected;
  for (const ParameterTensor& slot : parameter_tensors(chain)) {
    expected.insert(slot.name);
    const SafetensorsEntry& entry = file.tensor(slot.name, "F32", slot.shape);
    std::memcpy(params.data() + slot.offset, file.data(entry), slot.count * sizeof(float));
  }
  for (const auto& item : file.tensors)
    if (!expected.count(item.first) && item.first.rfind("egc.", 0) != 0)
      throw UsageError(file.where + "holds tensor '" + item.first + "', which this model does not have (layers: " +
                       std::to_string(chain.size()) + ")");
  return params;
}

}  // namespace egc
