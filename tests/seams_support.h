// What the CPU tests of the CUDA kernels' bodies share: seeded inputs, bitwise comparison, arrays
// at a chosen distance from a 16-byte boundary (the vector or the scalar path), and the launchers'
// grids run on the host (vector_access.h's emulation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/launch_config.h"
#include "kernels/vector_access.h"
#include "runtime/random.h"

namespace egc::cuda {

inline std::vector<float> random_floats(std::size_t count, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Random random(seed);
  std::vector<float> values(count);
  for (float& value : values) value = static_cast<float>(random.uniform(low, high));
  return values;
}

inline bool bitwise_equal(const float* a, const float* b, std::size_t count) {
  return count == 0 || std::memcmp(a, b, count * sizeof(float)) == 0;
}

// A copy of `values` that starts `offset` floats past a 16-byte boundary: offset 0 gives the
// vector path, any other the scalar one (a tensor at an odd float offset of the parameters).
class Floats {
 public:
  Floats(const std::vector<float>& values, std::size_t offset) : storage_(values.size() + 4 + offset), size_(values.size()) {
    std::size_t skip = 0;
    while (!aligned16(storage_.data() + skip)) ++skip;
    data_ = storage_.data() + skip + offset;
    for (std::size_t i = 0; i < size_; ++i) data_[i] = values[i];  // (std::copy: a false -Wstringop-overflow)
  }
  Floats(const Floats&) = delete;
  Floats& operator=(const Floats&) = delete;
  float* data() const { return data_; }
  bool equals(const std::vector<float>& expected) const {
    return expected.size() == size_ && bitwise_equal(data_, expected.data(), size_);
  }

 private:
  std::vector<float> storage_;
  std::size_t size_;
  float* data_ = nullptr;
};

// What a launcher does with a pack body: vectorize when its arrays allow, launch pack_launch's
// grid; here the grid runs on the host.
template <class Body>
inline bool run_packs(const Body& body, std::size_t count) {
  const bool vectorized = body.vectorizable();
  for_each_pack_host(pack_launch(count, vectorized), count, vectorized, body);
  return vectorized;
}

template <class Body>
inline void run_indices(const Body& body, std::size_t count) {
  for_each_index_host(element_launch(count), count, body);
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && bitwise_equal(a.data(), b.data(), a.size());
}

}  // namespace egc::cuda
