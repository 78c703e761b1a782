// The GEMMs of a training step, as one table: the executor makes its calls from these shapes and
// the CUDA backend's warm-up runs each distinct one before anything is measured, so that cuBLAS
// chooses its kernels for the real shapes outside the measured steps.
#pragma once

#include <algorithm>
#include <cstddef>
#include <tuple>
#include <vector>

#include "planner/chain.h"

namespace egc {

// Backend::gemm(transpose_a, transpose_b, m, n, k, ...): C[m x n] = op(A) op(B) + beta C.
struct GemmShape {
  bool transpose_a = false;
  bool transpose_b = false;
  std::size_t m = 0, n = 0, k = 0;
  bool operator<(const GemmShape& o) const {
    return std::tie(transpose_a, transpose_b, m, n, k) < std::tie(o.transpose_a, o.transpose_b, o.m, o.n, o.k);
  }
  bool operator==(const GemmShape& o) const {
    return std::tie(transpose_a, transpose_b, m, n, k) == std::tie(o.transpose_a, o.transpose_b, o.m, o.n, o.k);
  }
};

// Of a Linear(in, out) (planner/chain.h: linear_shapes):
// out[rows x out] = x[rows x in] W^T
inline GemmShape forward_gemm(const LinearShape& linear, std::size_t rows) {
  return {false, true, rows, linear.out, linear.in};
}
// dW[out x in] = g^T x, summed over the rows
inline GemmShape weight_gradient_gemm(const LinearShape& linear, std::size_t rows) {
  return {true, false, linear.out, linear.in, rows};
}
// dx[rows x in] = g W (none for layer 0: its input is the data)
inline GemmShape input_gradient_gemm(const LinearShape& linear, std::size_t rows) {
  return {false, false, rows, linear.in, linear.out};
}

// Every distinct shape a training step of `chain` multiplies, in a fixed order: per Linear map of
// every unit, forward and dW, and dx but for the first unit's first map (the data's).
inline std::vector<GemmShape> step_gemm_shapes(const Chain& chain) {
  std::vector<GemmShape> shapes;
  for (const Layer& layer : chain.layers) {
    const std::vector<LinearShape> linears = linear_shapes(layer);
    for (std::size_t i = 0; i < linears.size(); ++i) {
      shapes.push_back(forward_gemm(linears[i], chain.batch));
      shapes.push_back(weight_gradient_gemm(linears[i], chain.batch));
      if (layer.index > 0 || i > 0) shapes.push_back(input_gradient_gemm(linears[i], chain.batch));
    }
  }
  std::sort(shapes.begin(), shapes.end());
  shapes.erase(std::unique(shapes.begin(), shapes.end()), shapes.end());
  return shapes;
}

}  // namespace egc
