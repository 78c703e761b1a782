// LayerNorm kernels: their bodies are row_bodies.h's (which CPU tests run over the same grids),
// the column sums bias_backward's.
#include "kernels/layernorm.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/bias_backward.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"
#include "kernels/row_bodies.h"
#include "kernels/vector_access.h"

namespace egc::cuda {
namespace {

__global__ void layernorm_stats_kernel(const float* __restrict__ x, float* __restrict__ stats, std::size_t rows,
                                       std::size_t cols) {
  for_each_index(rows, LayerNormRowStats{x, stats, rows, cols});
}

__global__ void layernorm_apply_kernel(const float* __restrict__ x, float* __restrict__ out,
                                       const float* __restrict__ stats, const float* __restrict__ gamma,
                                       const float* __restrict__ beta, std::size_t rows, std::size_t cols) {
  for_each_index(rows * cols, LayerNormApply{x, out, stats, gamma, beta, rows, cols});
}

__global__ void layernorm_row_means_kernel(const float* __restrict__ g, const float* __restrict__ x,
                                           const float* __restrict__ stats, const float* __restrict__ gamma,
                                           float* __restrict__ means, std::size_t rows, std::size_t cols) {
  for_each_index(rows, LayerNormRowMeans{g, x, stats, gamma, means, rows, cols});
}

// grad_x may be the residual's gradient buffer, read and written here only.
__global__ void layernorm_input_gradient_kernel(const float* __restrict__ g, const float* __restrict__ x,
                                                const float* __restrict__ stats, const float* __restrict__ gamma,
                                                const float* __restrict__ means, float* __restrict__ grad_x,
                                                float* __restrict__ product, std::size_t rows, std::size_t cols) {
  for_each_index(rows * cols, LayerNormInputGradient{g, x, stats, gamma, means, grad_x, product, rows, cols});
}

void require_scratch(const char* op, std::size_t needed, std::size_t given) {
  if (needed > given)
    throw std::logic_error(std::string(op) + ": " + std::to_string(needed) + " bytes of scratch needed, " +
                           std::to_string(given) + " given (workspace planned for another chain?)");
}

}  // namespace

std::size_t layernorm_scratch_bytes_for(std::size_t rows, std::size_t cols) {
  return std::max(layernorm_scratch_bytes(rows), scratch_align(bias_backward_scratch_bytes(rows, cols)));
}

void layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                       std::size_t rows, std::size_t cols, bool compute_stats, void* scratch, std::size_t scratch_bytes,
                       cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  if (!stats) {
    if (!compute_stats) throw std::logic_error("layernorm_forward: statistics to read, but none given");
    require_scratch("layernorm_forward", layernorm_scratch_bytes(rows), scratch_bytes);
    stats = static_cast<float*>(scratch);
  }
  if (compute_stats) {
    const Launch launch = element_launch(rows);
    layernorm_stats_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(x, stats, rows, cols);
    EGC_CUDA_CHECK_LAUNCH(layernorm_stats_kernel);
  }
  const Launch launch = element_launch(rows * cols);
  layernorm_apply_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(x, out, stats, gamma, beta, rows,
                                                                                     cols);
  EGC_CUDA_CHECK_LAUNCH(layernorm_apply_kernel);
}

void layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma, float* grad_x,
                        float* grad_gamma, float* grad_beta, std::size_t rows, std::size_t cols, bool accumulate,
                        float* product, void* scratch, std::size_t scratch_bytes, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  require_scratch("layernorm_backward", layernorm_scratch_bytes_for(rows, cols), scratch_bytes);
  auto* means = static_cast<float*>(scratch);  // consumed by the input gradient before the column sums reuse it
  const Launch row_launch = element_launch(rows);
  layernorm_row_means_kernel<<<to_dim3(row_launch.grid), to_dim3(row_launch.block), 0, stream>>>(g, x, stats, gamma,
                                                                                                  means, rows, cols);
  EGC_CUDA_CHECK_LAUNCH(layernorm_row_means_kernel);
  const Launch launch = element_launch(rows * cols);
  layernorm_input_gradient_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(
      g, x, stats, gamma, means, grad_x, product, rows, cols);
  EGC_CUDA_CHECK_LAUNCH(layernorm_input_gradient_kernel);
  bias_backward(product, grad_gamma, rows, cols, accumulate, scratch, scratch_bytes, stream);
  bias_backward(g, grad_beta, rows, cols, accumulate, scratch, scratch_bytes, stream);
}

}  // namespace egc::cuda
