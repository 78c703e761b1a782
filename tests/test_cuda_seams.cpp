// CPU tests of what the CUDA backend passes to the GPU: the row-major -> cuBLAS column-major GEMM
// mapping (against a column-major sgemm written here), every launch geometry at its limits, and
// the grid-stride walks. Built in every build, with or without CUDA.
#include <doctest/doctest.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "kernels/column_sum.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"
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

TEST_CASE("seams: launch geometry: grid_blocks and pack_blocks from 0 elements to SIZE_MAX") {
  const std::size_t size_max = std::numeric_limits<std::size_t>::max();
  const std::size_t one_pass = kMaxBlocks * kThreadsPerBlock;  // threads of the largest grid
  CHECK(ceil_div(size_max, 4) == size_max / 4 + 1);            // no wrap-around in (items + 3)
  CHECK(grid_blocks(0) == 1);
  CHECK(grid_blocks(1) == 1);
  CHECK(grid_blocks(256) == 1);
  CHECK(grid_blocks(257) == 2);
  CHECK(grid_blocks(one_pass) == kMaxBlocks);
  CHECK(grid_blocks(one_pass + 1) == kMaxBlocks);
  CHECK(grid_blocks((std::size_t{1} << 31) + 1) == kMaxBlocks);
  CHECK(grid_blocks((std::size_t{1} << 32) + 3) == kMaxBlocks);
  CHECK(grid_blocks(size_max / 4) == kMaxBlocks);
  CHECK(grid_blocks(size_max) == kMaxBlocks);
  CHECK(grid_blocks(1000, 32) == 32);
  CHECK(pack_blocks(5, true) == 1);
  CHECK(pack_blocks(4 * 256, true) == 1);
  CHECK(pack_blocks(4 * 256 + 1, true) == 2);  // a tail of one float needs a thread of its own block
  CHECK(pack_blocks(4 * 256 + 1, false) == 5);
  CHECK(pack_blocks(4 * one_pass + 3, true) == kMaxBlocks);
  CHECK(pack_blocks(size_max, true) == kMaxBlocks);
  CHECK(pack_blocks(size_max, false) == kMaxBlocks);

  // For any count: enough threads for one pass or the largest grid, and no block without work.
  std::vector<std::size_t> counts = {1, 2, 3, 4, 5, 255, 256, 257, 1023, 1024, 1025, 4097};
  for (const std::size_t base : {one_pass, 4 * one_pass, std::size_t{1} << 31, std::size_t{1} << 32})
    for (const std::size_t delta : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) counts.push_back(base - 1 + delta);
  for (const std::size_t count : counts) {
    for (const bool vectorized : {false, true}) {
      INFO("count=" << count << " vectorized=" << vectorized);
      const std::size_t threads_needed = vectorized ? ceil_div(count, 4) : count;
      const Launch launch = pack_launch(count, vectorized);
      CHECK(within_device_limits(launch));
      CHECK(launch.block.x == kThreadsPerBlock);
      const std::size_t threads = std::size_t{launch.grid.x} * launch.block.x;
      CHECK((threads >= threads_needed || launch.grid.x == kMaxBlocks));
      CHECK(threads - launch.block.x < threads_needed);
      if (!vectorized) CHECK(element_launch(count).grid.x == launch.grid.x);
    }
  }
}

TEST_CASE("seams: launch geometry: the column sum's grids, chunks and scratch, and the CUB baseline's grid") {
  const std::size_t rows_cases[] = {0, 1, 7, 63, 64, 65, 4032, 4033, 4096, 4097, 1000003, (std::size_t{1} << 32) + 5};
  const std::size_t cols_cases[] = {1, 31, 32, 33, 1000, std::size_t{1} << 24, (std::size_t{1} << 31) + 1,
                                    std::size_t{kMaxGridX} * kColumnTile};
  for (const std::size_t rows : rows_cases) {
    for (const std::size_t cols : cols_cases) {
      INFO("rows=" << rows << " cols=" << cols);
      const ColumnSumGeometry g = column_sum_geometry(rows, cols);
      CHECK(within_device_limits(g.tiles));
      CHECK(within_device_limits(g.finish));
      CHECK(g.tiles.block.x == kColumnTile);
      CHECK(g.tiles.block.y == kRowLanes);
      // Every column in exactly one tile, no tile without a column.
      CHECK(std::size_t{g.tiles.grid.x} * kColumnTile >= cols);
      CHECK(std::size_t{g.tiles.grid.x - 1} * kColumnTile < cols);
      // One chunk per gridDim.y; every row in a chunk, the last chunk not empty.
      CHECK(g.tiles.grid.y == g.chunks);
      CHECK(g.chunks >= 1);
      CHECK(g.chunks <= kMaxChunks);
      CHECK(g.chunks * g.rows_per_chunk >= rows);
      if (rows > 0) CHECK((g.chunks - 1) * g.rows_per_chunk < rows);
      // The scratch holds the partial sum of every chunk and column the tiles write, no more.
      CHECK(bias_backward_scratch_bytes(rows, cols) == g.chunks * cols * sizeof(float));
      const std::size_t last_partial = (std::size_t{g.tiles.grid.y} - 1) * cols + (cols - 1);
      CHECK(last_partial < bias_backward_scratch_bytes(rows, cols) / sizeof(float));
      CHECK(g.finish.grid.x == grid_blocks(cols));
    }
  }
  CHECK_THROWS_AS(column_sum_geometry(1, std::size_t{kMaxGridX} * kColumnTile + 1), std::logic_error);
  CHECK(within_device_limits(column_sum_cub_launch(1)));
  CHECK(column_sum_cub_launch(kMaxGridX).grid.x == kMaxGridX);
  CHECK(within_device_limits(column_sum_cub_launch(kMaxGridX)));
  CHECK_THROWS_AS(column_sum_cub_launch(std::size_t{kMaxGridX} + 1), std::logic_error);
  // The device limits themselves: 65,535 blocks in y and z, 1,024 threads a block.
  CHECK_FALSE(within_device_limits(Launch{Extent{1, kMaxGridYZ + 1}, Extent{32}}));
  CHECK_FALSE(within_device_limits(Launch{Extent{1}, Extent{32, 33}}));
  CHECK_FALSE(within_device_limits(Launch{Extent{0}, Extent{32}}));
}

namespace {

// Runs the host emulation of a launch's grid and counts the visits of every element; a pack that
// reaches past the end, or a pack of 4 not on a multiple of 4 (which, from an aligned base, would
// be a misaligned float4), counts as a visit of 2 (checked per call without doctest's cost).
std::vector<std::uint8_t> pack_visits(const Launch& launch, std::size_t count, bool vectorized) {
  std::vector<std::uint8_t> visits(count, 0);
  for_each_pack_host(launch, count, vectorized, [&](std::size_t first, auto width) {
    constexpr int n = decltype(width)::value;
    if (first + n > count || (n == 4 && first % 4 != 0)) {
      visits.at(0) = 2;
      return;
    }
    for (int i = 0; i < n; ++i) ++visits[first + i];
  });
  return visits;
}

bool all_once(const std::vector<std::uint8_t>& visits) {
  for (const std::uint8_t v : visits)
    if (v != 1) return false;
  return true;
}

}  // namespace

TEST_CASE("seams: for_each_pack_host: every element exactly once, vector and scalar paths, tails, a second pass") {
  for (const std::size_t count : {0, 1, 3, 4, 5, 7, 31, 1000, 1027, 4097, 4 * 256 * 3 + 2}) {
    for (const bool vectorized : {false, true}) {
      INFO("count=" << count << " vectorized=" << vectorized);
      CHECK(all_once(pack_visits(pack_launch(count, vectorized), count, vectorized)));
      // A grid smaller than the work (3 blocks): every thread walks several passes.
      CHECK(all_once(pack_visits(Launch{Extent{3}, Extent{kThreadsPerBlock}}, count, vectorized)));
    }
  }
  // The launchers' own grids past one pass: 2^16 blocks x 256 threads x 4 floats, plus a tail.
  const std::size_t one_pass = kMaxBlocks * kThreadsPerBlock;
  for (const bool vectorized : {false, true}) {
    const std::size_t count = (vectorized ? 4 * one_pass : one_pass) + 4 * 5 + 3;
    INFO("count=" << count << " vectorized=" << vectorized);
    CHECK(all_once(pack_visits(pack_launch(count, vectorized), count, vectorized)));
  }
  for (const std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{257}, one_pass + 3}) {
    std::vector<std::uint8_t> visits(count, 0);
    for_each_index_host(element_launch(count), count, [&](std::size_t i) { ++visits.at(i); });
    CHECK(all_once(visits));
  }
  CHECK_THROWS_AS(for_each_index_host(Launch{Extent{1}, Extent{32, 8}}, 1, [](std::size_t) {}), std::logic_error);
}

TEST_CASE("seams: walk_packs beyond 2^32 elements: sampled threads of the launcher's grid visit exactly their share") {
  const std::size_t count = (std::size_t{1} << 32) + 4 * 1000 + 3;  // 3 floats of tail
  const Launch launch = pack_launch(count, true);
  const std::size_t stride = std::size_t{launch.grid.x} * launch.block.x;
  const std::size_t groups = count / 4;
  for (const std::size_t thread : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{999},
                                   std::size_t{1000}, stride - 1}) {
    INFO("thread=" << thread);
    std::size_t packs = 0, singles = 0, next = 4 * thread;
    walk_packs(thread, stride, count, true, [&](std::size_t first, auto width) {
      if (decltype(width)::value == 4) {
        CHECK(first == next);  // its packs: thread, thread + stride, ... in groups of 4 floats
        next += 4 * stride;
        ++packs;
      } else {
        CHECK(first == 4 * groups + thread);  // the tail: one float for each of the first threads
        ++singles;
      }
    });
    CHECK(packs == ceil_div(groups - thread, stride));
    CHECK(singles == (thread < count % 4 ? 1u : 0u));
  }
}

}  // namespace egc::cuda
