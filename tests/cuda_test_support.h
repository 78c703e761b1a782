// Helpers of the GPU suites: the device under test (the CUDA backend, or the simulated device
// that runs their driver code in CI), device buffers through it, seeded random inputs, and the
// normwise relative error ||out - ref|| / ||ref|| the tolerances are stated in.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/backend_factory.h"
#include "runtime/dataset.h"
#include "runtime/random.h"
#include "runtime/session.h"

namespace egc::test {

inline std::unique_ptr<Backend> make_cuda(bool tf32 = false) {
  BackendOptions options;
  options.tf32 = tf32;
  return make_backend(DeviceChoice::cuda, options);
}

// EGC_TEST_DEVICE=sim runs a suite on the simulated device (--device sim: the CPU reference's
// math behind a simulated CUDA driver of 16 GiB, 2 MiB granularity): everything but the kernels
// and cuBLAS runs as on the GPU. Otherwise (unset or cuda) the suites need a GPU.
inline bool testing_simulated_device() {
  const char* device = std::getenv("EGC_TEST_DEVICE");
  return device && std::string(device) == "sim";
}

inline std::unique_ptr<Backend> make_device_under_test(bool tf32 = false) {
  if (!testing_simulated_device()) return make_cuda(tf32);
  BackendOptions options;
  options.sim.capacity_bytes = std::size_t{16} << 30;
  options.sim.granularity_bytes = std::size_t{2} << 20;
  return make_backend(DeviceChoice::sim, options);
}

// The plan of `spec` for `data` resident in the arena and the backend's workspace.
// single_update: one update after the backward pass from a whole-step gradient buffer (needed to
// read gradients after a step, and by --accumulate); otherwise each layer is updated in its backward.
inline Plan plan_for(const ModelSpec& spec, const Dataset& data, Backend& backend, const std::string& plan,
                     bool single_update = false) {
  RunOptions options;
  options.single_update = single_update;
  return plan_run(spec, data, backend, parse_plan(plan), options);
}

// A device allocation of the backend, freed with it.
class DeviceBuffer {
 public:
  DeviceBuffer(Backend& backend, std::size_t bytes) : backend_(backend), bytes_(bytes), pointer_(backend.allocate(bytes)) {}
  template <class T>
  DeviceBuffer(Backend& backend, const std::vector<T>& values) : DeviceBuffer(backend, values.size() * sizeof(T)) {
    backend.copy_to_device(pointer_, values.data(), bytes_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { backend_.release(pointer_); }

  float* floats(std::size_t offset = 0) const { return static_cast<float*>(pointer_) + offset; }
  void* get() const { return pointer_; }
  std::size_t bytes() const { return bytes_; }
  std::vector<float> download(std::size_t offset = 0, std::size_t count = 0) const {
    std::vector<float> values(count ? count : bytes_ / sizeof(float) - offset);
    backend_.copy_to_host(values.data(), floats(offset), values.size() * sizeof(float));
    return values;
  }

 private:
  Backend& backend_;
  std::size_t bytes_;
  void* pointer_;
};

inline std::vector<float> random_floats(std::size_t count, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Random random(seed);
  std::vector<float> values(count);
  for (float& value : values) value = static_cast<float>(random.uniform(low, high));
  return values;
}

// ||out - ref|| / ||scale||: the error against the magnitudes the result was computed from
// (|A| |B| for a product, the sum of |terms| for a sum), to which float32 rounding errors are
// proportional; unlike ||ref||, it does not blow up where terms cancel (a one-element case whose
// result happens to be near zero).
template <class Out, class Ref, class Scale>
double error_relative_to(const std::vector<Out>& out, const std::vector<Ref>& ref, const std::vector<Scale>& scale) {
  REQUIRE(out.size() == ref.size());
  REQUIRE(scale.size() == ref.size());
  double difference = 0, norm = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double d = static_cast<double>(out[i]) - static_cast<double>(ref[i]);
    difference += d * d;
    norm += static_cast<double>(scale[i]) * static_cast<double>(scale[i]);
  }
  return norm > 0 ? std::sqrt(difference / norm) : std::sqrt(difference);
}

// ||out - ref|| / ||ref||.
template <class Out, class Ref>
double relative_error(const std::vector<Out>& out, const std::vector<Ref>& ref) {
  return error_relative_to(out, ref, ref);
}

// |a| + |b| element-wise, each scaled: the magnitude of the terms of a*a_i + b*b_i.
inline std::vector<double> magnitudes(const std::vector<float>& a, double a_scale, const std::vector<float>& b,
                                      double b_scale) {
  std::vector<double> result(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) result[i] = std::abs(a_scale * a[i]) + std::abs(b_scale * b[i]);
  return result;
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

constexpr std::size_t kAwkwardSizes[] = {1, 7, 31, 1000, 4097};
constexpr double kFloatEpsilon = 1.1920928955078125e-07;  // 2^-23

}  // namespace egc::test
