// Activation kernels, one instantiation per activation so that the per-element switch of
// elementwise_math.h folds away; the dropout mask is drawn from Philox inside the same pass. Their
// bodies are elementwise_bodies.h's, which CPU tests run too; so is the residual epilogue's.
#include "kernels/activation.h"

#include "kernels/cuda_check.h"
#include "kernels/elementwise_bodies.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {
namespace {

// The pointers arrive as __restrict__ kernel parameters (what lets loads use the read-only path)
// and are wrapped in the body inside the kernel.
template <int Code>
__global__ void bias_activation_forward_kernel(float* __restrict__ out, float* __restrict__ pre,
                                               const float* __restrict__ bias, std::size_t count, std::size_t cols,
                                               math::DropoutMask dropout, bool vectorized) {
  for_each_pack(count, vectorized, BiasActivationForward<Code>{out, pre, bias, cols, dropout});
}

template <int Code>
__global__ void activation_forward_kernel(const float* __restrict__ pre, float* __restrict__ out, std::size_t count,
                                          math::DropoutMask dropout, bool vectorized) {
  for_each_pack(count, vectorized, ActivationForward<Code>{pre, out, dropout});
}

template <int Code>
__global__ void activation_backward_kernel(float* __restrict__ grad, const float* __restrict__ saved,
                                           std::size_t count, bool from_pre, math::DropoutMask dropout,
                                           bool vectorized) {
  for_each_pack(count, vectorized, ActivationBackward<Code>{grad, saved, from_pre, dropout});
}

__global__ void bias_residual_forward_kernel(float* __restrict__ out, const float* __restrict__ bias,
                                             const float* __restrict__ residual, std::size_t count, std::size_t cols,
                                             bool vectorized) {
  for_each_pack(count, vectorized, BiasResidualForward{out, bias, residual, cols});
}

}  // namespace

void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                             int activation, const math::DropoutMask& dropout, cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0) return;
  with_activation(activation, [&](auto code) {
    constexpr int kCode = decltype(code)::value;
    const bool vectorized = BiasActivationForward<kCode>{out, pre, bias, cols, dropout}.vectorizable();
    const Launch launch = pack_launch(count, vectorized);
    bias_activation_forward_kernel<kCode><<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(
        out, pre, bias, count, cols, dropout, vectorized);
    EGC_CUDA_CHECK_LAUNCH(bias_activation_forward_kernel);
  });
}

void activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols, int activation,
                        const math::DropoutMask& dropout, cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0) return;
  with_activation(activation, [&](auto code) {
    constexpr int kCode = decltype(code)::value;
    const bool vectorized = ActivationForward<kCode>{pre, out, dropout}.vectorizable();
    const Launch launch = pack_launch(count, vectorized);
    activation_forward_kernel<kCode><<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(pre, out, count,
                                                                                                   dropout, vectorized);
    EGC_CUDA_CHECK_LAUNCH(activation_forward_kernel);
  });
}

void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, int activation,
                         bool from_pre, const math::DropoutMask& dropout, cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0 || (activation == math::kIdentity && !dropout.enabled())) return;
  with_activation(activation, [&](auto code) {
    constexpr int kCode = decltype(code)::value;
    const bool vectorized = ActivationBackward<kCode>{grad, saved, from_pre, dropout}.vectorizable();
    const Launch launch = pack_launch(count, vectorized);
    activation_backward_kernel<kCode><<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(
        grad, saved, count, from_pre, dropout, vectorized);
    EGC_CUDA_CHECK_LAUNCH(activation_backward_kernel);
  });
}

void bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows, std::size_t cols,
                           cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0) return;
  const bool vectorized = BiasResidualForward{out, bias, residual, cols}.vectorizable();
  const Launch launch = pack_launch(count, vectorized);
  bias_residual_forward_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(out, bias, residual, count,
                                                                                           cols, vectorized);
  EGC_CUDA_CHECK_LAUNCH(bias_residual_forward_kernel);
}

}  // namespace egc::cuda
