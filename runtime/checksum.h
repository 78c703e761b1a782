// A 64-bit FNV-1a hash for fingerprints and checkpoint checksums: catches a flipped or lost
// byte, not an adversary. Whole 8-byte words at a time, so that gigabytes take about a second.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace egc {

class Fnv1a64 {
 public:
  Fnv1a64& add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      mix(word);
    }
    for (; i < bytes; ++i) mix(p[i]);
    mix(bytes);  // so that "ab" + "c" and "a" + "bc" differ
    return *this;
  }
  Fnv1a64& add(const std::string& text) { return add(text.data(), text.size()); }
  std::uint64_t value() const { return hash_; }
  // "fnv1a64:0123456789abcdef"
  std::string text() const {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "fnv1a64:%016llx", static_cast<unsigned long long>(hash_));
    return buffer;
  }

 private:
  void mix(std::uint64_t value) { hash_ = (hash_ ^ value) * 0x100000001b3ull; }
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace egc
