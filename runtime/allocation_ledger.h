// AllocationLedger: a backend's own count of the bytes it handed out through allocate(): the
// live allocations (for release), the bytes held now and the most ever held at once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <unordered_map>

namespace egc {

class AllocationLedger {
 public:
  void record(void* pointer, std::size_t bytes) {
    live_[pointer] = bytes;
    current_bytes_ += bytes;
    peak_bytes_ = std::max(peak_bytes_, current_bytes_);
    ++allocations_;
  }
  // The bytes recorded for the pointer (now forgotten); 0 for a pointer never recorded.
  std::size_t forget(void* pointer) {
    const auto found = live_.find(pointer);
    if (found == live_.end()) return 0;
    const std::size_t bytes = found->second;
    current_bytes_ -= bytes;
    live_.erase(found);
    return bytes;
  }
  std::size_t current_bytes() const { return current_bytes_; }
  std::size_t peak_bytes() const { return peak_bytes_; }
  std::size_t allocations() const { return allocations_; }
  void reset_peak() { peak_bytes_ = current_bytes_; }

 private:
  std::unordered_map<void*, std::size_t> live_;
  std::size_t current_bytes_ = 0;
  std::size_t peak_bytes_ = 0;
  std::size_t allocations_ = 0;
};

}  // namespace egc
