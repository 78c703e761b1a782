// Reading any safetensors file: the header checked entry by entry (dtype, shape, data range)
// before a byte of data is used, so that --load and --resume refuse a truncated or corrupt
// file with a message instead of reading past it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace egc {

struct SafetensorsEntry {
  std::string dtype;               // "F32", "U32", "I64", ...
  std::vector<std::size_t> shape;
  std::size_t begin = 0;           // byte range in the data section
  std::size_t end = 0;
};

struct SafetensorsFile {
  std::string where;                              // "--load: 'FILE' ", the prefix of every message
  std::map<std::string, std::string> metadata;    // "__metadata__" (string values only)
  std::map<std::string, SafetensorsEntry> tensors;
  std::string bytes;                              // the whole file
  std::size_t data_start = 0;                     // where the data section begins in `bytes`

  const char* data(const SafetensorsEntry& entry) const { return bytes.data() + data_start + entry.begin; }
  // The tensor `name`, which must exist with `dtype` and `shape`; UsageError naming it otherwise.
  const SafetensorsEntry& tensor(const std::string& name, const std::string& dtype,
                                 const std::vector<std::size_t>& shape) const;
};

// Parses a whole file's bytes; `where` prefixes every UsageError ("--resume: 'a.safetensors' ").
// Checks the header length, that the header is a JSON object, that every entry has a known
// dtype, a shape whose size matches its data_offsets, and offsets inside the data section.
SafetensorsFile parse_safetensors(std::string bytes, const std::string& where);

// The whole file at `path`; UsageError naming `flag` when it cannot be read.
std::string read_file_bytes(const std::string& path, const std::string& flag);

// Reads `path` and parses it; UsageError naming `flag` when it cannot be read.
SafetensorsFile read_safetensors(const std::string& path, const std::string& flag);

// "[3, 4]"
std::string shape_text(const std::vector<std::size_t>& shape);

}  // namespace egc
