// Parsing and printing of sizes, numbers and percentages; overflow-checked arithmetic.
#include "planner/units.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <cmath>
#include <cstdio>
#include <limits>

#include "planner/errors.h"

namespace egc {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

[[noreturn]] void bad_size(std::string_view text, std::string_view flag, const char* why) {
  throw UsageError(std::string(flag) + ": '" + std::string(text) + "' is not a size (" + why +
                   "; accepted: bytes such as 1048576, or a number with a unit: KiB, MiB, GiB, "
                   "TiB, KB, MB, GB, TB)");
}

}  // namespace

std::size_t parse_size(std::string_view text, std::string_view flag) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number(text.substr(0, i));
  std::string unit = lower(text.substr(i));
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  if (number.empty() || std::count(number.begin(), number.end(), '.') > 1 || number == ".")
    bad_size(text, flag, "no number");
  std::size_t multiplier = 1;
  if (unit.empty() || unit == "b") multiplier = 1;
  else if (unit == "kib" || unit == "k") multiplier = std::size_t{1} << 10;
  else if (unit == "mib" || unit == "m") multiplier = std::size_t{1} << 20;
  else if (unit == "gib" || unit == "g") multiplier = std::size_t{1} << 30;
  else if (unit == "tib" || unit == "t") multiplier = std::size_t{1} << 40;
  else if (unit == "kb") multiplier = 1000;
  else if (unit == "mb") multiplier = 1000 * 1000;
  else if (unit == "gb") multiplier = 1000 * 1000 * 1000;
  else if (unit == "tb") multiplier = std::size_t{1000} * 1000 * 1000 * 1000;
  else bad_size(text, flag, "unknown unit");

  if (number.find('.') == std::string::npos) {
    std::size_t value = 0;
    for (char c : number) {
      const std::size_t digit = static_cast<std::size_t>(c - '0');
      if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10)
        bad_size(text, flag, "does not fit in 64 bits");
      value = value * 10 + digit;
    }
    if (multiplier != 1 && value > std::numeric_limits<std::size_t>::max() / multiplier)
      bad_size(text, flag, "does not fit in 64 bits");
    return value * multiplier;
  }
  const long double value = std::strtold(number.c_str(), nullptr) * multiplier;
  if (!(value < 18446744073709551615.0L)) bad_size(text, flag, "does not fit in 64 bits");
  return static_cast<std::size_t>(std::llround(value));
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    items.emplace_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

std::size_t parse_whole(std::string_view text, std::string_view flag, std::size_t low, std::size_t high) {
  std::size_t value = 0;
  bool ok = !text.empty();
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) { ok = false; break; }
    const std::size_t digit = static_cast<std::size_t>(c - '0');
    if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) { ok = false; break; }
    value = value * 10 + digit;
  }
  if (ok && value >= low && value <= high) return value;
  const std::string accepted = low == 1 && high == std::numeric_limits<std::size_t>::max()
                                   ? "a positive whole number"
                                   : "a whole number from " + std::to_string(low) + " to " + std::to_string(high);
  throw UsageError(std::string(flag) + ": '" + std::string(text) + "' is not accepted (" + accepted + " is)");
}

std::size_t parse_positive(std::string_view text, std::string_view flag) {
  return parse_whole(text, flag, 1, std::numeric_limits<std::size_t>::max());
}

double parse_real(std::string_view text, std::string_view flag, double low, double high) {
  const std::string copy(text);  // strtod needs a terminated string
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || errno == ERANGE || !std::isfinite(value) || value < low ||
      value > high) {
    std::ostringstream accepted;
    accepted << "a number from " << low << " to " << high;
    throw UsageError(std::string(flag) + ": '" + copy + "' is not accepted (" + accepted.str() + " is)");
  }
  return value;
}

std::string format_bytes(std::size_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  long double value = static_cast<long double>(bytes);
  int unit = 0;
  while (value >= 1024.0L && unit < 6) { value /= 1024.0L; ++unit; }
  char text[32];
  std::snprintf(text, sizeof text, "%.2Lf %s", value, units[unit]);
  return text;
}

double percent_of(double part, double whole) { return whole == 0 ? 0.0 : 100.0 * part / whole; }

std::string format_percent(double part, double whole, int decimals, bool sign) {
  char text[48];
  std::snprintf(text, sizeof text, sign ? "%+.*f%%" : "%.*f%%", decimals, percent_of(part, whole));
  return text;
}

std::string pad_left(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

std::string pad_right(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

std::size_t checked_mul(std::size_t a, std::size_t b, std::string_view what) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a)
    throw UsageError(std::string(what) + ": " + std::to_string(a) + " x " + std::to_string(b) +
                     " overflows 64 bits");
  return a * b;
}

std::size_t checked_add(std::size_t a, std::size_t b, std::string_view what) {
  if (b > std::numeric_limits<std::size_t>::max() - a)
    throw UsageError(std::string(what) + ": " + std::to_string(a) + " + " + std::to_string(b) +
                     " overflows 64 bits");
  return a + b;
}

}  // namespace egc
