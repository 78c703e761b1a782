// write_file_atomically: temporary file + rename.
#include "runtime/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

#include "planner/errors.h"

namespace egc {
namespace {

std::string temporary_path(const std::string& path) {
  return path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& flag,
                           const std::function<void(std::ostream&)>& write) {
  const std::string temporary = temporary_path(path);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out)
      throw UsageError(flag + ": cannot write '" + path + "': " + std::strerror(errno));
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(temporary.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw UsageError(flag + ": writing '" + path + "' failed: " + std::strerror(errno));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temporary.c_str());
    throw UsageError(flag + ": cannot write '" + path + "': " + reason);
  }
}

void check_writable(const std::string& path, const std::string& flag) {
  const std::string temporary = temporary_path(path);
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  if (!out) throw UsageError(flag + ": cannot write '" + path + "': " + std::strerror(errno));
  out.close();
  std::remove(temporary.c_str());
}

}  // namespace egc
