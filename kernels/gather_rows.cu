// Gather kernel: one thread per destination element; consecutive threads copy consecutive
// floats of a row, so both the reads and the writes are coalesced along rows.
#include "kernels/gather_rows.h"

#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"

namespace egc::cuda {
namespace {

__global__ void gather_rows_kernel(const float* __restrict__ source, const std::uint32_t* __restrict__ indices,
                                   float* __restrict__ destination, std::size_t count, std::size_t cols) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += stride) {
    const std::size_t row = e / cols;
    destination[e] = source[static_cast<std::size_t>(indices[row]) * cols + (e - row * cols)];
  }
}

}  // namespace

void gather_rows(const float* source, const std::uint32_t* indices, float* destination, std::size_t rows,
                 std::size_t cols, cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0) return;
  gather_rows_kernel<<<grid_blocks(count), kThreadsPerBlock, 0, stream>>>(source, indices, destination, count, cols);
  EGC_CUDA_CHECK_LAUNCH(gather_rows_kernel);
}

}  // namespace egc::cuda
