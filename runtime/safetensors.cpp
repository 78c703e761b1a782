// safetensors: 8-byte little-endian header length, JSON header, raw little-endian data.
#include "runtime/safetensors.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include <nlohmann/json.hpp>

#include "planner/errors.h"
#include "planner/parameter_tensors.h"
#include "runtime/atomic_file.h"

namespace egc {
namespace {

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

void write_safetensors(const std::string& path, const std::string& flag, const std::vector<TensorView>& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}, {"producer", "egc"}};
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

void save_safetensors(const std::string& path, const Chain& chain, const std::vector<float>& params,
                      const std::string& flag) {
  std::vector<TensorView> tensors;
  for (const ParameterTensor& slot : parameter_tensors(chain))
    tensors.push_back({slot.name, "F32", slot.shape, params.data() + slot.offset, slot.count * sizeof(float)});
  write_safetensors(path, flag, tensors);
}

std::vector<float> load_safetensors(const std::string& path, const Chain& chain, const std::string& flag) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw UsageError(flag + ": cannot open '" + path + "': " + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::string where = flag + ": '" + path + "' ";
  if (bytes.size() < 8) throw UsageError(where + "is not a safetensors file (shorter than its 8-byte header length)");
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (header_length > bytes.size() - 8)
    throw UsageError(where + "is truncated or corrupt (header of " + std::to_string(header_length) + " bytes, file of " +
                     std::to_string(bytes.size()) + ")");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, header_length));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(where + "has a corrupt header: " + e.what());
  }
  if (!header.is_object()) throw UsageError(where + "has a corrupt header: not a JSON object");
  const std::size_t data_start = 8 + header_length;
  const std::size_t data_bytes = bytes.size() - data_start;

  std::vector<float> params(chain.param_count);
  std::set<std::string> expected;
  for (const ParameterTensor& slot : parameter_tensors(chain)) {
    expected.insert(slot.name);
    if (!header.contains(slot.name))
      throw UsageError(where + "has no tensor '" + slot.name + "' (the model needs shape " + shape_text(slot.shape) + ")");
    const nlohmann::json& entry = header[slot.name];
    try {
      const std::string dtype = entry.at("dtype");
      if (dtype != "F32") throw UsageError(where + "tensor '" + slot.name + "' is " + dtype + "; egc reads F32 only");
      const std::vector<std::size_t> shape = entry.at("shape");
      if (shape != slot.shape)
        throw UsageError(where + "tensor '" + slot.name + "' has shape " + shape_text(shape) + ", the model needs " +
                         shape_text(slot.shape));
      const std::vector<std::size_t> offsets = entry.at("data_offsets");
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_bytes ||
          offsets[1] - offsets[0] != slot.count * 4)
        throw UsageError(where + "is truncated or corrupt (tensor '" + slot.name + "' data out of range)");
      std::memcpy(params.data() + slot.offset, bytes.data() + data_start + offsets[0], slot.count * 4);
    } catch (const nlohmann::json::exception& e) {
      throw UsageError(where + "has a corrupt entry for '" + slot.name + "': " + e.what());
    }
  }
  for (const auto& item : header.items())
    if (item.key() != "__metadata__" && !expected.count(item.key()))
      throw UsageError(where + "holds tensor '" + item.key() + "', which this model does not have (layers: " +
                       std::to_string(chain.size()) + ")");
  return params;
}

}  // namespace egc
