// Backend::gemm's row-major C = op(A) op(B) + beta C as the arguments of one column-major
// cublasSgemm call: a pure function (no CUDA header), so that CPU tests check the mapping that
// the CUDA backend passes to cuBLAS (tests/test_cuda_seams.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace egc {

// cublasSgemm(handle, transa, transb, m, n, k, &alpha, first, lda, second, ldb, &beta, c, ldc).
struct SgemmArguments {
  bool transpose_first = false;   // transa: CUBLAS_OP_T when true
  bool transpose_second = false;  // transb
  int m = 0, n = 0, k = 0;        // cuBLAS's (column-major) sizes
  const float* first = nullptr;   // cuBLAS's A
  int ld_first = 1;
  const float* second = nullptr;  // cuBLAS's B
  int ld_second = 1;
  int ldc = 1;
};

// cuBLAS takes int sizes; a larger one is refused rather than truncated.
inline int cublas_int(std::size_t value, const char* what) {
  if (value > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::logic_error(std::string("cuBLAS: ") + what + " = " + std::to_string(value) + " does not fit an int");
  return static_cast<int>(value);
}

// Row-major C[m x n] = op(A) op(B) + beta C is column-major C^T = op(B)^T op(A)^T: the row-major
// buffers, read column-major, are already the transposes, so cuBLAS gets B first, then A, with
// the same transpose flags and the stored row lengths as leading dimensions. A row length of 0
// (k = 0: nothing to multiply, C = beta C) becomes 1, since cuBLAS refuses a leading dimension
// below max(1, rows stored). nullopt: C is empty (m or n = 0), there is no call to make.
inline std::optional<SgemmArguments> map_row_major_gemm(bool transpose_a, bool transpose_b, std::size_t m,
                                                         std::size_t n, std::size_t k, const float* a,
                                                         const float* b) {
  if (m == 0 || n == 0) return std::nullopt;
  SgemmArguments call;
  call.transpose_first = transpose_b;
  call.transpose_second = transpose_a;
  call.m = cublas_int(n, "n");
  call.n = cublas_int(m, "m");
  call.k = cublas_int(k, "k");
  call.first = b;
  call.ld_first = cublas_int(std::max<std::size_t>(transpose_b ? k : n, 1), "ldb");
  call.second = a;
  call.ld_second = cublas_int(std::max<std::size_t>(transpose_a ? m : k, 1), "lda");
  call.ldc = call.m;  // C's row length n
  return call;
}

}  // namespace egc
