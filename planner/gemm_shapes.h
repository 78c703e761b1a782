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

// out[rows x out] = x[rows x in] W^T
inline GemmShape forward_gemm(const Layer& layer, std::size_t rows) { return {false, true, rows, layer.out, layer.in}; }
// dW[out x in] = g^T x, summed over the rows
inline GemmShape weight_gradient_gemm(const Layer& layer, std::size_t rows) {
  return {true, false, layer.out, layer.in, rows};
}
// dx[rows x in] = g W (none for layer 0: its input is the data)
inline GemmShape input_gradient_gemm(const Layer& layer, std::size_t rows) {
  return {false, false, rows, layer.in, layer.out};
}

// Every distinct shape a training step of `chain` multiplies, in a fixed order.
inline std::vector<GemmShape> step_gemm_shapes(const Chain& chain) {
  std::vector<GemmShape> shapes;
  for (const Layer& layer : chain.layers) {
    shapes.push_back(forward_gemm(layer, chain.batch));
    shapes.push_back(weight_gradient_gemm(layer, chain.batch));
    if (layer.index > 0) shapes.push_back(input_gradient_gemm(layer, chain.batch));
  }
  std::sort(shapes.begin(), shapes.end());
  shapes.erase(std::unique(shapes.begin(), shapes.end()), shapes.end());
  return shapes;
}

}  // namespace egc
