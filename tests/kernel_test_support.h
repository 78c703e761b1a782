// What the kernel suites share: the awkward shapes, and the device under test with a workspace
// big enough for every size they use.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "planner/chain.h"
#include "runtime/cpu_backend.h"
#include "runtime/random.h"
#include "tests/cuda_test_support.h"

namespace egc::test {

// Element-wise cases: every pair of awkward sizes up to ~4.1 M elements (4097 x 4097 only adds
// CPU time to the run, not coverage).
inline std::vector<std::pair<std::size_t, std::size_t>> shapes() {
  std::vector<std::pair<std::size_t, std::size_t>> result;
  for (const std::size_t rows : kAwkwardSizes)
    for (const std::size_t cols : kAwkwardSizes)
      if (rows * cols <= 4097 * 1000) result.emplace_back(rows, cols);
  return result;
}

inline std::string shape_name(std::size_t rows, std::size_t cols) { return std::to_string(rows) + "x" + std::to_string(cols); }

// The device under test with a workspace big enough for every size these tests use.
struct Fixture {
  std::unique_ptr<Backend> gpu = make_device_under_test();
  CpuBackend cpu;
  std::unique_ptr<DeviceBuffer> workspace;
  Fixture() {
    ModelSpec spec;
    spec.in_features = spec.out_features = spec.batch = 4097;
    spec.hidden_widths = {4097};
    workspace = std::make_unique<DeviceBuffer>(*gpu, gpu->workspace_bytes(build_chain(spec)));
    gpu->bind_workspace(workspace->get(), workspace->bytes());
  }
  ~Fixture() { gpu->bind_workspace(nullptr, 0); }
};

inline std::uint64_t seed_of(std::size_t a, std::size_t b, std::size_t c = 0) { return derive_seed(a * 1000003 + b, c); }

inline const Activation kActivations[] = {Activation::identity, Activation::relu, Activation::gelu, Activation::tanh};


// A bias-gradient case: the gradient, the bias it may be added to, the float64 column sums and
// the scale of their rounding error (the sum of |terms| per column, |initial| included when
// accumulating).
struct ColumnSumCase {
  std::vector<float> grad, initial, expected;
  std::vector<double> scale;
};
inline ColumnSumCase column_sum_case(CpuBackend& cpu, std::size_t rows, std::size_t cols, bool accumulate) {
  ColumnSumCase c;
  // A mean of 0.25 keeps the column sums away from zero, so that a relative error means
  // something for every column.
  c.grad = random_floats(rows * cols, seed_of(rows, cols, 6), -0.75, 1.25);
  c.initial = random_floats(cols, seed_of(cols, 8));
  c.scale.assign(cols, 0.0);
  for (std::size_t e = 0; e < c.grad.size(); ++e) c.scale[e % cols] += std::abs(c.grad[e]);
  if (accumulate)
    for (std::size_t j = 0; j < cols; ++j) c.scale[j] += std::abs(c.initial[j]);
  c.expected = c.initial;
  cpu.bias_gradient(c.grad.data(), c.expected.data(), rows, cols, accumulate);  // float64 sums
  return c;
}

}  // namespace egc::test
