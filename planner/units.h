// Numbers as users write and read them: byte sizes with units ("512MiB", "1.50 GiB"), whole and
// real numbers of flags, comma-separated lists, percentages, padded table cells; and
// overflow-checked size arithmetic for everything the planner multiplies.
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

// A whole number in [low, high] written in decimal digits only; UsageError naming `flag` and
// the range otherwise (also when it does not fit in 64 bits).
std::size_t parse_whole(std::string_view text, std::string_view flag, std::size_t low, std::size_t high);
// parse_whole from 1 up.
std::size_t parse_positive(std::string_view text, std::string_view flag);
// A finite number in [low, high] for `flag`; UsageError naming the flag and the range otherwise.
double parse_real(std::string_view text, std::string_view flag, double low, double high);

// "0 B", "512 B", "1.50 KiB", "3.25 MiB", "1.00 GiB".
std::string format_bytes(std::size_t bytes);

// 100 * part / whole, 0 for whole = 0.
double percent_of(double part, double whole);
// "12.5%" with `decimals` decimals; with `sign`, "+12.50%" / "-0.40%".
std::string format_percent(double part, double whole, int decimals = 1, bool sign = false);

// `text` padded with spaces on the left (right-aligned) or right to `width` characters.
std::string pad_left(const std::string& text, std::size_t width);
std::string pad_right(const std::string& text, std::size_t width);

// a * b and a + b, throwing UsageError("<what>: ... overflows 64 bits") when they do not fit.
std::size_t checked_mul(std::size_t a, std::size_t b, std::string_view what);
std::size_t checked_add(std::size_t a, std::size_t b, std::string_view what);

constexpr std::size_t align_up(std::size_t n, std::size_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace egc
