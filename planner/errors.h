// Error types shared by every layer: UsageError for bad user input (exit code 2),
// everything else derived from std::runtime_error is a runtime failure (exit code 1).
#pragma once

#include <stdexcept>
#include <string>

namespace egc {

// Bad input from the user: a flag, a file or a value that cannot be accepted.
// The message names the flag (or file) and what is accepted.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace egc
