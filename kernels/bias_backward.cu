// Bias gradient kernels: the two-stage tiled column sum (its geometry and per-thread work are
// column_sum.h's, which CPU tests run too), and the cub::BlockReduce baseline.
#include "kernels/bias_backward.h"

#include <stdexcept>
#include <string>

#include <cub/block/block_reduce.cuh>

#include "kernels/column_sum.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {
namespace {

__global__ void bias_backward_kernel(const float* __restrict__ grad, float* __restrict__ partials, std::size_t rows,
                                     std::size_t cols, std::size_t rows_per_chunk) {
  __shared__ ColumnTiles::LaneSums lane_sums;
  const ColumnTiles tiles{grad, partials, rows, cols, rows_per_chunk};
  tiles.sum_lane(lane_sums, blockIdx.x, blockIdx.y, threadIdx.x, threadIdx.y);
  __syncthreads();
  tiles.add_lanes(lane_sums, blockIdx.x, blockIdx.y, threadIdx.x, threadIdx.y);
}

__global__ void bias_backward_finish_kernel(const float* __restrict__ partials, float* __restrict__ bias_grad,
                                            std::size_t cols, std::size_t chunks, bool accumulate) {
  for_each_index(cols, ColumnTotals{partials, bias_grad, cols, chunks, accumulate});
}

__global__ void bias_backward_cub_kernel(const float* __restrict__ grad, float* __restrict__ bias_grad,
                                         std::size_t rows, std::size_t cols, bool accumulate) {
  using BlockReduce = cub::BlockReduce<float, kCubThreads>;
  __shared__ typename BlockReduce::TempStorage storage;
  const std::size_t col = blockIdx.x;
  float sum = 0.0f;
  for (std::size_t row = threadIdx.x; row < rows; row += kCubThreads) sum += grad[row * cols + col];
  const float total = BlockReduce(storage).Sum(sum);
  if (threadIdx.x == 0) bias_grad[col] = accumulate ? bias_grad[col] + total : total;
}

}  // namespace

void bias_backward(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols, bool accumulate,
                   void* scratch, std::size_t scratch_bytes, cudaStream_t stream) {
  if (cols == 0) return;
  const std::size_t needed = bias_backward_scratch_bytes(rows, cols);
  if (needed > scratch_bytes)
    throw std::logic_error("bias_backward: " + std::to_string(needed) + " bytes of scratch needed, " +
                           std::to_string(scratch_bytes) + " given (workspace planned for another chain?)");
  const ColumnSumGeometry geometry = column_sum_geometry(rows, cols);
  auto* partials = static_cast<float*>(scratch);
  bias_backward_kernel<<<to_dim3(geometry.tiles.grid), to_dim3(geometry.tiles.block), 0, stream>>>(
      grad, partials, rows, cols, geometry.rows_per_chunk);
  EGC_CUDA_CHECK_LAUNCH(bias_backward_kernel);
  bias_backward_finish_kernel<<<to_dim3(geometry.finish.grid), to_dim3(geometry.finish.block), 0, stream>>>(
      partials, bias_grad, cols, geometry.chunks, accumulate);
  EGC_CUDA_CHECK_LAUNCH(bias_backward_finish_kernel);
}

void bias_backward_cub(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols, bool accumulate,
                       cudaStream_t stream) {
  if (cols == 0) return;
  const Launch launch = column_sum_cub_launch(cols);
  bias_backward_cub_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(grad, bias_grad, rows, cols,
                                                                                       accumulate);
  EGC_CUDA_CHECK_LAUNCH(bias_backward_cub_kernel);
}

}  // namespace egc::cuda
