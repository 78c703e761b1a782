// CPU tests of what the CUDA backend passes to the GPU: the row-major -> cuBLAS column-major GEMM
// mapping, against a column-major sgemm written here. Built in every build, with or without CUDA.
#include <doctest/doctest.h>

#include <climits>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "runtime/cpu_math.h"
#include "runtime/gemm_mapping.h"

namespace egc::cuda {
namespace {

// Small integers: every product and sum below is exact in float and double, so the GEMMs
// compare bit for bit and any element read from the wrong place shows.
std::vector<float> small_integers(std::size_t count, std::size_t seed) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<float>(static_cast<int>((i * 7 + seed * 13) % 9) - 4);
  return values;
}

// cuBLAS refuses (CUBLAS_STATUS_INVALID_VALUE) leading dimensions below max(1, rows of the
// stored matrix): the stored A is m x k for N, k x m for T; B is k x n or n x k; C is m x n.
void check_cublas_rules(const SgemmArguments& s) {
  CHECK(s.m >= 0);
  CHECK(s.n >= 0);
  CHECK(s.k >= 0);
  CHECK(s.ld_first >= std::max(1, s.transpose_first ? s.k : s.m));
  CHECK(s.ld_second >= std::max(1, s.transpose_second ? s.n : s.k));
  CHECK(s.ldc >= std::max(1, s.m));
}

// cublasSgemm as the cuBLAS guide defines it, column-major: C = alpha op(A) op(B) + beta C with
// op(A) m x k, op(B) k x n, element (i, j) of a matrix X at X[i + j ldx]; beta = 0 ignores C.
// Every access is bounds-checked (.at) against the buffer the pointer came from.
void column_major_sgemm(const SgemmArguments& s, float alpha, const std::vector<float>& a,
                        const std::vector<float>& b, float beta, std::vector<float>& c) {
  const auto op_a = [&](int i, int p) { return s.transpose_first ? a.at(p + std::size_t(i) * s.ld_first)
                                                                 : a.at(i + std::size_t(p) * s.ld_first); };
  const auto op_b = [&](int p, int j) { return s.transpose_second ? b.at(j + std::size_t(p) * s.ld_second)
                                                                  : b.at(p + std::size_t(j) * s.ld_second); };
  for (int j = 0; j < s.n; ++j) {
    for (int i = 0; i < s.m; ++i) {
      double sum = 0;
      for (int p = 0; p < s.k; ++p) sum += static_cast<double>(op_a(i, p)) * static_cast<double>(op_b(p, j));
      float& out = c.at(i + std::size_t(j) * s.ldc);
      out = static_cast<float>(alpha * sum + (beta == 0.0f ? 0.0 : static_cast<double>(beta) * out));
    }
  }
}

struct Shape {
  std::size_t m, n, k;
};

}  // namespace

TEST_CASE("seams: gemm mapping: every transpose case, beta 0 and 1, edge sizes, against a column-major sgemm") {
  const Shape shapes[] = {{1, 1, 1}, {1, 5, 3}, {4, 1, 3}, {1, 1, 7}, {3, 5, 0}, {1, 1, 0}, {2, 3, 4},
                          {5, 3, 2}, {7, 4, 9}, {1, 7, 1}, {6, 1, 5}, {9, 8, 1}};
  int cases = 0;
  for (const Shape& s : shapes) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const float beta : {0.0f, 1.0f}) {
          INFO("m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << ta << " tb=" << tb << " beta=" << beta);
          // Row-major as Backend::gemm stores them: A is m x k (k x m when transposed), B is
          // k x n (n x k), C is m x n.
          const std::vector<float> a = small_integers(s.m * s.k, 1), b = small_integers(s.k * s.n, 2);
          const std::vector<float> c0 = small_integers(s.m * s.n, 3);
          std::vector<double> expected(c0.begin(), c0.end()), scratch(s.k * s.n);
          const std::vector<double> a64(a.begin(), a.end()), b64(b.begin(), b.end());
          cpu::gemm<double>(ta, tb, s.m, s.n, s.k, a64.data(), b64.data(), beta, expected.data(), scratch.data());

          // Empty operands (k = 0) may share a null data(); only sizes matter for them.
          const std::optional<SgemmArguments> call = map_row_major_gemm(ta, tb, s.m, s.n, s.k, a.data(), b.data());
          REQUIRE(call);
          check_cublas_rules(*call);
          CHECK(call->first == b.data());  // the column-major product is C^T = op(B)^T op(A)^T
          CHECK(call->second == a.data());
          std::vector<float> c = c0;
          column_major_sgemm(*call, 1.0f, b, a, beta, c);
          for (std::size_t e = 0; e < c.size(); ++e) CHECK(c[e] == expected[e]);
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 12 * 8);
}

TEST_CASE("seams: gemm mapping: nothing to call for an empty C, sizes beyond INT_MAX refused, INT_MAX itself passed") {
  const float* a = nullptr;
  const float* b = nullptr;
  const std::size_t over = static_cast<std::size_t>(INT_MAX) + 1;
  for (const bool ta : {false, true}) {
    for (const bool tb : {false, true}) {
      INFO("ta=" << ta << " tb=" << tb);
      CHECK_FALSE(map_row_major_gemm(ta, tb, 0, 5, 3, a, b));
      CHECK_FALSE(map_row_major_gemm(ta, tb, 5, 0, 3, a, b));
      CHECK_FALSE(map_row_major_gemm(ta, tb, 0, over, over, a, b));  // nothing to compute, nothing to refuse
      CHECK_THROWS_AS(map_row_major_gemm(ta, tb, over, 1, 1, a, b), std::logic_error);
      CHECK_THROWS_AS(map_row_major_gemm(ta, tb, 1, over, 1, a, b), std::logic_error);
      CHECK_THROWS_AS(map_row_major_gemm(ta, tb, 1, 1, over, a, b), std::logic_error);
      CHECK_THROWS_AS(map_row_major_gemm(ta, tb, 1, 1, std::numeric_limits<std::size_t>::max(), a, b),
                      std::logic_error);
      const std::size_t big = INT_MAX;
      for (const Shape& s : {Shape{big, 1, 1}, Shape{1, big, 1}, Shape{1, 1, big}, Shape{big, big, big}}) {
        const std::optional<SgemmArguments> call = map_row_major_gemm(ta, tb, s.m, s.n, s.k, a, b);
        REQUIRE(call);
        CHECK(static_cast<std::size_t>(call->m) == s.n);
        CHECK(static_cast<std::size_t>(call->n) == s.m);
        CHECK(static_cast<std::size_t>(call->k) == s.k);
        check_cublas_rules(*call);
      }
    }
  }
  // k = 0: the row lengths of A (not transposed) and B (transposed) are 0; cuBLAS wants 1.
  const std::optional<SgemmArguments> call = map_row_major_gemm(false, true, 3, 2, 0, a, b);
  REQUIRE(call);
  CHECK(call->ld_first == 1);
  CHECK(call->ld_second == 1);
  CHECK(call->ldc == 2);
}

}  // namespace egc::cuda
