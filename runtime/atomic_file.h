// Writing a user's file so that it is never left half-written: write a temporary file beside
// it, flush, then rename over the target.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace egc {

// Throws UsageError naming `flag` when the file cannot be created or written (the target is
// untouched then).
void write_file_atomically(const std::string& path, const std::string& flag,
                           const std::function<void(std::ostream&)>& write);

// Throws UsageError naming `flag` unless a file could be created at `path` (checked before
// long work starts, so a bad --report or --save path fails at once, not after training).
void check_writable(const std::string& path, const std::string& flag);

}  // namespace egc
