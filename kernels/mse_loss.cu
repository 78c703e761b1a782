// MSE loss kernels: cub::DeviceReduce::TransformReduce of the squared differences into a float64
// in scratch, a one-thread kernel that writes the mean, and the element-wise gradient. The
// per-element pieces are elementwise_bodies.h's, which CPU tests run too.
#include "kernels/mse_loss.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include <cub/device/device_reduce.cuh>
#include <cuda/std/functional>
#include <thrust/iterator/counting_iterator.h>

#include "kernels/cuda_check.h"
#include "kernels/elementwise_bodies.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {
namespace {

constexpr std::size_t kSumSlot = 256;  // the float64 sum; CUB's storage follows, 256-aligned

struct SquaredDifference {
  const float* pred;
  const float* target;
  __device__ double operator()(std::int64_t e) const {
    return squared_difference(pred, target, static_cast<std::size_t>(e));
  }
};

using Indices = thrust::counting_iterator<std::int64_t>;

cudaError_t reduce(void* storage, std::size_t& storage_bytes, const float* pred, const float* target, double* sum,
                   std::size_t count, cudaStream_t stream) {
  return cub::DeviceReduce::TransformReduce(storage, storage_bytes, Indices(0), sum, static_cast<std::int64_t>(count),
                                            ::cuda::std::plus<double>{}, SquaredDifference{pred, target}, 0.0,
                                            stream);
}

__global__ void mse_loss_forward_kernel(const double* sum, float* loss, std::size_t count) {
  *loss = mean_of_sum(*sum, count);
}

__global__ void mse_loss_backward_kernel(const float* __restrict__ pred, const float* __restrict__ target,
                                         float* __restrict__ grad, std::size_t count, float scale) {
  for_each_index(count, MseGradient{pred, target, grad, scale, static_cast<float>(count)});
}

}  // namespace

std::size_t mse_loss_forward_scratch_bytes(std::size_t count) {
  std::size_t storage_bytes = 0;
  EGC_CUDA_CHECK(reduce(nullptr, storage_bytes, nullptr, nullptr, nullptr, count, nullptr));
  return kSumSlot + storage_bytes;
}

void mse_loss_forward(const float* pred, const float* target, float* loss, std::size_t count, void* scratch,
                      std::size_t scratch_bytes, cudaStream_t stream) {
  if (count == 0) throw std::logic_error("mse_loss_forward: no elements");
  const std::size_t needed = mse_loss_forward_scratch_bytes(count);
  if (needed > scratch_bytes)
    throw std::logic_error("mse_loss_forward: " + std::to_string(needed) + " bytes of scratch needed, " +
                           std::to_string(scratch_bytes) + " given (workspace planned for another chain?)");
  auto* sum = static_cast<double*>(scratch);
  std::size_t storage_bytes = needed - kSumSlot;
  EGC_CUDA_CHECK(reduce(static_cast<char*>(scratch) + kSumSlot, storage_bytes, pred, target, sum, count, stream));
  mse_loss_forward_kernel<<<1, 1, 0, stream>>>(sum, loss, count);
  EGC_CUDA_CHECK_LAUNCH(mse_loss_forward_kernel);
}

void mse_loss_backward(const float* pred, const float* target, float* grad, std::size_t count, float scale,
                       cudaStream_t stream) {
  if (count == 0) return;
  const Launch launch = element_launch(count);
  mse_loss_backward_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(pred, target, grad, count,
                                                                                       scale);
  EGC_CUDA_CHECK_LAUNCH(mse_loss_backward_kernel);
}

}  // namespace egc::cuda
