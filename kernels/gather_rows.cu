// Gather kernel: one thread per destination element; consecutive threads copy consecutive
// floats of a row, so both the reads and the writes are coalesced along rows. The body is
// elementwise_bodies.h's, which CPU tests run too.
#include "kernels/gather_rows.h"

#include "kernels/cuda_check.h"
#include "kernels/elementwise_bodies.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {
namespace {

__global__ void gather_rows_kernel(const float* __restrict__ source, const std::uint32_t* __restrict__ indices,
                                   float* __restrict__ destination, std::size_t count, std::size_t cols) {
  for_each_index(count, GatherRows{source, indices, destination, cols});
}

}  // namespace

void gather_rows(const float* source, const std::uint32_t* indices, float* destination, std::size_t rows,
                 std::size_t cols, cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0) return;
  const Launch launch = element_launch(count);
  gather_rows_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(source, indices, destination, count,
                                                                                 cols);
  EGC_CUDA_CHECK_LAUNCH(gather_rows_kernel);
}

}  // namespace egc::cuda
