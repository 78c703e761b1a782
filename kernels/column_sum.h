// The bias gradient's deterministic two-stage column sum, host-compilable: its geometry (grids,
// chunks, scratch) as pure functions, each thread's work as __host__ __device__ functions that
// bias_backward.cu's kernels run, and a host emulation of the kernels for CPU tests.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/elementwise_math.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {

constexpr unsigned int kColumnTile = 32;  // one warp reads 32 consecutive floats of a row: 128 bytes
constexpr unsigned int kRowLanes = 8;     // 256 threads per block
constexpr std::size_t kRowsPerChunk = 64;
constexpr std::size_t kMaxChunks = 64;  // bounds the scratch: kMaxChunks x cols partial sums
constexpr unsigned int kCubThreads = 256;
static_assert(kMaxChunks <= kMaxGridYZ, "one chunk per gridDim.y");

// The split depends on rows alone (not on the device), so the summation order, and with it
// every bit of the result, is the same on every run and in every plan.
inline std::size_t column_sum_chunks(std::size_t rows) {
  return std::clamp<std::size_t>(ceil_div(rows, kRowsPerChunk), 1, kMaxChunks);
}

// Scratch bytes bias_backward needs for a rows x cols gradient: one partial sum per chunk and column.
inline std::size_t bias_backward_scratch_bytes(std::size_t rows, std::size_t cols) {
  return column_sum_chunks(rows) * cols * sizeof(float);
}

struct ColumnSumGeometry {
  Launch tiles;   // stage 1: grid (column tiles, chunks), block (kColumnTile, kRowLanes)
  Launch finish;  // stage 2: a grid-stride loop over the columns
  std::size_t chunks;
  std::size_t rows_per_chunk;  // chunk c sums rows [c rows_per_chunk, (c + 1) rows_per_chunk)
};

inline ColumnSumGeometry column_sum_geometry(std::size_t rows, std::size_t cols) {
  const std::size_t tiles = ceil_div(cols, kColumnTile);
  if (tiles > kMaxGridX)
    throw std::logic_error("bias_backward: " + std::to_string(cols) + " columns need more column tiles than a grid holds");
  const std::size_t chunks = column_sum_chunks(rows);
  const Launch tile_launch{Extent{static_cast<unsigned int>(tiles), static_cast<unsigned int>(chunks)},
                           Extent{kColumnTile, kRowLanes}};
  return ColumnSumGeometry{tile_launch, element_launch(cols), chunks, ceil_div(rows, chunks)};
}

// The CUB baseline: one block of kCubThreads per column.
inline Launch column_sum_cub_launch(std::size_t cols) {
  if (cols > kMaxGridX) throw std::logic_error("bias_backward_cub: too many columns for one block each");
  return Launch{Extent{static_cast<unsigned int>(cols)}, Extent{kCubThreads}};
}

// Stage 1 of one block, (tile, chunk), whose threads (x, lane) first sum their lane's rows of
// column tile * kColumnTile + x into lane_sums (padded against bank conflicts), then, after the
// block's barrier, lane 0 adds the lanes in lane order into the chunk's partial sum.
struct ColumnTiles {
  using LaneSums = float[kRowLanes][kColumnTile + 1];
  const float* grad;
  float* partials;  // chunks x cols
  std::size_t rows, cols, rows_per_chunk;

  EGC_HOST_DEVICE std::size_t column(unsigned int tile, unsigned int x) const {
    return static_cast<std::size_t>(tile) * kColumnTile + x;
  }
  EGC_HOST_DEVICE void sum_lane(LaneSums& lane_sums, unsigned int tile, unsigned int chunk, unsigned int x,
                                unsigned int lane) const {
    const std::size_t col = column(tile, x);
    const std::size_t row_begin = static_cast<std::size_t>(chunk) * rows_per_chunk;
    const std::size_t row_end = rows < row_begin + rows_per_chunk ? rows : row_begin + rows_per_chunk;
    float sum = 0.0f;
    if (col < cols) {
#if defined(__CUDA_ARCH__)
#pragma unroll 4
#endif
      for (std::size_t row = row_begin + lane; row < row_end; row += kRowLanes) sum += grad[row * cols + col];
    }
    lane_sums[lane][x] = sum;
  }
  EGC_HOST_DEVICE void add_lanes(const LaneSums& lane_sums, unsigned int tile, unsigned int chunk, unsigned int x,
                                 unsigned int lane) const {
    const std::size_t col = column(tile, x);
    if (lane != 0 || col >= cols) return;
    float total = 0.0f;
    for (unsigned int l = 0; l < kRowLanes; ++l) total += lane_sums[l][x];
    partials[static_cast<std::size_t>(chunk) * cols + col] = total;
  }
};

// Stage 2, column col: the chunks' partial sums in chunk order, added to bias_grad[col] or not.
struct ColumnTotals {
  const float* partials;
  float* bias_grad;
  std::size_t cols, chunks;
  bool accumulate;

  EGC_HOST_DEVICE void operator()(std::size_t col) const {
    float total = 0.0f;
    for (std::size_t chunk = 0; chunk < chunks; ++chunk) total += partials[chunk * cols + col];
    bias_grad[col] = accumulate ? bias_grad[col] + total : total;
  }
};

// Both stages on the host, block by block and thread by thread as the kernels run them.
inline void column_sum_host(const ColumnSumGeometry& geometry, const ColumnTiles& tiles, const ColumnTotals& totals) {
  const Extent& grid = geometry.tiles.grid;
  const Extent& block = geometry.tiles.block;
  for (unsigned int chunk = 0; chunk < grid.y; ++chunk) {
    for (unsigned int tile = 0; tile < grid.x; ++tile) {
      ColumnTiles::LaneSums lane_sums{};
      for (unsigned int lane = 0; lane < block.y; ++lane)
        for (unsigned int x = 0; x < block.x; ++x) tiles.sum_lane(lane_sums, tile, chunk, x, lane);
      for (unsigned int lane = 0; lane < block.y; ++lane)  // __syncthreads() in between
        for (unsigned int x = 0; x < block.x; ++x) tiles.add_lanes(lane_sums, tile, chunk, x, lane);
    }
  }
  for_each_index_host(geometry.finish, totals.cols, totals);
}

}  // namespace egc::cuda
