// Bias gradient kernels: the two-stage tiled column sum, and the cub::BlockReduce baseline.
#include "kernels/bias_backward.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <cub/block/block_reduce.cuh>

#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"

namespace egc::cuda {
namespace {

constexpr unsigned int kColumnTile = 32;  // one warp reads 32 consecutive floats of a row: 128 bytes
constexpr unsigned int kRowLanes = 8;     // 256 threads per block
constexpr std::size_t kRowsPerChunk = 64;
constexpr std::size_t kMaxChunks = 64;    // bounds the scratch: kMaxChunks x cols partial sums

// The split depends on rows alone (not on the device), so the summation order, and with it
// every bit of the result, is the same on every run and in every plan.
std::size_t chunks_for(std::size_t rows) {
  return std::clamp<std::size_t>((rows + kRowsPerChunk - 1) / kRowsPerChunk, 1, kMaxChunks);
}

__global__ void bias_backward_kernel(const float* __restrict__ grad, float* __restrict__ partials, std::size_t rows,
                                     std::size_t cols, std::size_t rows_per_chunk) {
  __shared__ float lane_sums[kRowLanes][kColumnTile + 1];
  const std::size_t col = static_cast<std::size_t>(blockIdx.x) * kColumnTile + threadIdx.x;
  const std::size_t row_begin = static_cast<std::size_t>(blockIdx.y) * rows_per_chunk;
  const std::size_t row_end = min(rows, row_begin + rows_per_chunk);
  float sum = 0.0f;
  if (col < cols) {
#pragma unroll 4
    for (std::size_t row = row_begin + threadIdx.y; row < row_end; row += kRowLanes) sum += grad[row * cols + col];
  }
  lane_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float total = 0.0f;
    for (unsigned int lane = 0; lane < kRowLanes; ++lane) total += lane_sums[lane][threadIdx.x];
    partials[static_cast<std::size_t>(blockIdx.y) * cols + col] = total;
  }
}

__global__ void bias_backward_finish_kernel(const float* __restrict__ partials, float* __restrict__ bias_grad,
                                            std::size_t cols, std::size_t chunks, bool accumulate) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t col = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; col < cols; col += stride) {
    float total = 0.0f;
    for (std::size_t chunk = 0; chunk < chunks; ++chunk) total += partials[chunk * cols + col];
    bias_grad[col] = accumulate ? bias_grad[col] + total : total;
  }
}

constexpr int kCubThreads = 256;

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

std::size_t bias_backward_scratch_bytes(std::size_t rows, std::size_t cols) {
  return chunks_for(rows) * cols * sizeof(float);
}

void bias_backward(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols, bool accumulate,
                   void* scratch, std::size_t scratch_bytes, cudaStream_t stream) {
  if (cols == 0) return;
  const std::size_t needed = bias_backward_scratch_bytes(rows, cols);
  if (needed > scratch_bytes)
    throw std::logic_error("bias_backward: " + std::to_string(needed) + " bytes of scratch needed, " +
                           std::to_string(scratch_bytes) + " given (workspace planned for another chain?)");
  const std::size_t chunks = chunks_for(rows);
  auto* partials = static_cast<float*>(scratch);
  const dim3 grid(static_cast<unsigned int>((cols + kColumnTile - 1) / kColumnTile), static_cast<unsigned int>(chunks));
  const dim3 block(kColumnTile, kRowLanes);
  bias_backward_kernel<<<grid, block, 0, stream>>>(grad, partials, rows, cols, (rows + chunks - 1) / chunks);
  EGC_CUDA_CHECK_LAUNCH(bias_backward_kernel);
  bias_backward_finish_kernel<<<grid_blocks(cols), kThreadsPerBlock, 0, stream>>>(partials, bias_grad, cols, chunks,
                                                                                 accumulate);
  EGC_CUDA_CHECK_LAUNCH(bias_backward_finish_kernel);
}

void bias_backward_cub(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols, bool accumulate,
                       cudaStream_t stream) {
  if (cols == 0) return;
  if (cols > 0x7fffffffu) throw std::logic_error("bias_backward_cub: too many columns for one block each");
  bias_backward_cub_kernel<<<static_cast<unsigned int>(cols), kCubThreads, 0, stream>>>(grad, bias_grad, rows, cols,
                                                                                       accumulate);
  EGC_CUDA_CHECK_LAUNCH(bias_backward_cub_kernel);
}

}  // namespace egc::cuda
