// Names of enumerations as one table per enum: printing (name_of) and parsing (parse_name) read
// the same table, and a static_assert (names_in_order) keeps it complete and in enum order, so
// the enum's count and every name come from one definition.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "planner/errors.h"

namespace egc {

template <class Enum>
struct EnumName {
  Enum value;
  const char* name;
  bool accepted = true;  // offered to users by parse_name (identity, say, is only printed)
};

// True when table[i].value == i for every i: one entry per enumerator, in order. With the
// table's size as the enum's count, an enumerator added without a name fails to compile where
// the count is checked against the last enumerator.
template <class Enum, std::size_t N>
constexpr bool names_in_order(const EnumName<Enum> (&table)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    if (static_cast<std::size_t>(table[i].value) != i) return false;
  return true;
}

template <class Enum, std::size_t N>
constexpr std::size_t count_of(const EnumName<Enum> (&)[N]) {
  return N;
}

template <class Enum, std::size_t N>
constexpr const char* name_of(const EnumName<Enum> (&table)[N], Enum value) {
  const auto index = static_cast<std::size_t>(value);
  return index < N ? table[index].name : "?";
}

// "a, b, c": the accepted names.
template <class Enum, std::size_t N>
std::string accepted_names(const EnumName<Enum> (&table)[N]) {
  std::string text;
  for (const EnumName<Enum>& entry : table) {
    if (!entry.accepted) continue;
    if (!text.empty()) text += ", ";
    text += entry.name;
  }
  return text;
}

// The enumerator named `text`, accepted on the command line or not; nullopt for no name.
template <class Enum, std::size_t N>
std::optional<Enum> find_name(const EnumName<Enum> (&table)[N], std::string_view text) {
  for (const EnumName<Enum>& entry : table)
    if (text == entry.name) return entry.value;
  return std::nullopt;
}

// The enumerator named `text`; UsageError "<flag>: unknown <what> '<text>' (accepted: ...)".
template <class Enum, std::size_t N>
Enum parse_name(const EnumName<Enum> (&table)[N], std::string_view text, std::string_view flag, std::string_view what) {
  for (const EnumName<Enum>& entry : table)
    if (entry.accepted && text == entry.name) return entry.value;
  throw UsageError(std::string(flag) + ": unknown " + std::string(what) + " '" + std::string(text) +
                   "' (accepted: " + accepted_names(table) + ")");
}

}  // namespace egc
