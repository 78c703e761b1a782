// safetensors reading: 8-byte little-endian header length, JSON header, raw data; every entry
// checked against the data section before it is used.
#include "runtime/safetensors_reader.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include <nlohmann/json.hpp>

#include "planner/errors.h"

namespace egc {
namespace {

std::size_t dtype_bytes(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"F64", 8}, {"I64", 8}, {"U64", 8}, {"F32", 4}, {"I32", 4}, {"U32", 4}, {"F16", 2}, {"BF16", 2},
      {"I16", 2}, {"U16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  const auto found = sizes.find(dtype);
  return found == sizes.end() ? 0 : found->second;
}

// A JSON array of unsigned integers (no negative, fractional or oversized numbers).
bool read_unsigned_list(const nlohmann::json& value, std::vector<std::size_t>& out) {
  if (!value.is_array()) return false;
  for (const nlohmann::json& item : value) {
    if (!item.is_number_unsigned()) return false;
    out.push_back(item.get<std::uint64_t>());
  }
  return true;
}

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& value, std::size_t data_bytes,
                             const std::string& where) {
  const std::string bad = where + "has a corrupt entry for tensor '" + name + "': ";
  if (!value.is_object()) throw UsageError(bad + "not a JSON object");
  SafetensorsEntry entry;
  const auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string()) throw UsageError(bad + "no dtype");
  entry.dtype = dtype->get<std::string>();
  const std::size_t element_bytes = dtype_bytes(entry.dtype);
  if (element_bytes == 0) throw UsageError(bad + "unknown dtype '" + entry.dtype + "'");
  const auto shape = value.find("shape");
  if (shape == value.end() || !read_unsigned_list(*shape, entry.shape))
    throw UsageError(bad + "the shape is not a list of sizes");
  std::vector<std::size_t> offsets;
  const auto range = value.find("data_offsets");
  if (range == value.end() || !read_unsigned_list(*range, offsets) || offsets.size() != 2)
    throw UsageError(bad + "data_offsets is not a pair of byte offsets");
  entry.begin = offsets[0];
  entry.end = offsets[1];
  if (entry.begin > entry.end || entry.end > data_bytes)
    throw UsageError(where + "is truncated or corrupt (tensor '" + name + "' has bytes [" + std::to_string(entry.begin) +
                     ", " + std::to_string(entry.end) + ") of a data section of " + std::to_string(data_bytes) + ")");
  std::size_t expected = element_bytes;
  for (const std::size_t extent : entry.shape) {
    if (extent != 0 && expected > std::numeric_limits<std::size_t>::max() / extent)
      throw UsageError(bad + "shape " + shape_text(entry.shape) + " overflows 64 bits");
    expected *= extent;
  }
  if (expected != entry.end - entry.begin)
    throw UsageError(bad + "shape " + shape_text(entry.shape) + " of " + entry.dtype + " needs " +
                     std::to_string(expected) + " bytes, data_offsets give " + std::to_string(entry.end - entry.begin));
  return entry;
}

}  // namespace

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

const SafetensorsEntry& SafetensorsFile::tensor(const std::string& name, const std::string& dtype,
                                                const std::vector<std::size_t>& shape) const {
  const auto found = tensors.find(name);
  if (found == tensors.end())
    throw UsageError(where + "has no tensor '" + name + "' (the model needs shape " + shape_text(shape) + ")");
  const SafetensorsEntry& entry = found->second;
  if (entry.dtype != dtype)
    throw UsageError(where + "tensor '" + name + "' is " + entry.dtype + "; egc reads " + dtype + " there");
  if (entry.shape != shape)
    throw UsageError(where + "tensor '" + name + "' has shape " + shape_text(entry.shape) + ", the model needs " +
                     shape_text(shape));
  return entry;
}

SafetensorsFile parse_safetensors(std::string bytes, const std::string& where) {
  SafetensorsFile file;
  file.where = where;
  if (bytes.size() < 8) throw UsageError(where + "is not a safetensors file (shorter than its 8-byte header length)");
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (header_length > bytes.size() - 8)
    throw UsageError(where + "is truncated or corrupt (header of " + std::to_string(header_length) + " bytes, file of " +
                     std::to_string(bytes.size()) + ")");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_length));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(where + "has a corrupt header: " + e.what());
  }
  if (!header.is_object()) throw UsageError(where + "has a corrupt header: not a JSON object");
  file.data_start = 8 + header_length;
  const std::size_t data_bytes = bytes.size() - file.data_start;
  for (const auto& item : header.items()) {
    if (item.key() != "__metadata__") {
      file.tensors[item.key()] = parse_entry(item.key(), item.value(), data_bytes, where);
      continue;
    }
    if (!item.value().is_object()) throw UsageError(where + "has a corrupt header: __metadata__ is not an object");
    for (const auto& field : item.value().items()) {
      if (!field.value().is_string())
        throw UsageError(where + "has a corrupt header: metadata '" + field.key() + "' is not a string");
      file.metadata[field.key()] = field.value().get<std::string>();
    }
  }
  file.bytes = std::move(bytes);
  return file;
}

std::string read_file_bytes(const std::string& path, const std::string& flag) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw UsageError(flag + ": cannot open '" + path + "': " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw UsageError(flag + ": cannot read '" + path + "': " + std::strerror(errno));
  return bytes;
}

SafetensorsFile read_safetensors(const std::string& path, const std::string& flag) {
  return parse_safetensors(read_file_bytes(path, flag), flag + ": '" + path + "' ");
}

}  // namespace egc
