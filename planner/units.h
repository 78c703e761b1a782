// Byte sizes as users write and read them ("512MiB", "1.50 GiB"), and overflow-checked
// size arithmetic for everything the planner multiplies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace egc {

// Parses "1048576", "512MiB", "8GiB", "1.5GB", "64KiB" (binary KiB/MiB/GiB/TiB, decimal
// KB/MB/GB/TB, optional B; case-insensitive). Throws UsageError naming `flag` on bad input
// or a value that does not fit in 64 bits.
std::size_t parse_size(std::string_view text, std::string_view flag);

// "a,b,,c" -> {"a", "b", "", "c"}: the items between commas, as written (one item without any).
std::vector<std::string> split_commas(std::string_view text);

// Parses a positive integer for `flag` (throws UsageError naming the flag otherwise).
std::size_t parse_positive(std::string_view text, std::string_view flag);

// "0 B", "512 B", "1.50 KiB", "3.25 MiB", "1.00 GiB".
std::string format_bytes(std::size_t bytes);

// a * b and a + b, throwing UsageError("<what>: ... overflows 64 bits") when they do not fit.
std::size_t checked_mul(std::size_t a, std::size_t b, std::string_view what);
std::size_t checked_add(std::size_t a, std::size_t b, std::string_view what);

constexpr std::size_t align_up(std::size_t n, std::size_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace egc
