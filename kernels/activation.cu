// Activation kernels, one instantiation per activation so that the per-element switch of
// elementwise_math.h folds away; their bodies are elementwise_bodies.h's, which CPU tests run too.
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
                                               bool vectorized) {
  for_each_pack(count, vectorized, BiasActivationForward<Code>{out, pre, bias, cols});
}

template <int Code>
__global__ void activation_backward_kernel(float* __restrict__ grad, const float* __restrict__ saved,
                                           std::size_t count, bool vectorized) {
  for_each_pack(count, vectorized, ActivationBackward<Code>{grad, saved});
}

}  // namespace

void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                             int activation, cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0) return;
  with_activation(activation, [&](auto code) {
    constexpr int kCode = decltype(code)::value;
    const bool vectorized = BiasActivationForward<kCode>{out, pre, bias, cols}.vectorizable();
    const Launch launch = pack_launch(count, vectorized);
    bias_activation_forward_kernel<kCode><<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(
        out, pre, bias, count, cols, vectorized);
    EGC_CUDA_CHECK_LAUNCH(bias_activation_forward_kernel);
  });
}

void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, int activation,
                         cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0 || activation == math::kIdentity) return;
  with_activation(activation, [&](auto code) {
    constexpr int kCode = decltype(code)::value;
    const bool vectorized = ActivationBackward<kCode>{grad, saved}.vectorizable();
    const Launch launch = pack_launch(count, vectorized);
    activation_backward_kernel<kCode><<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(grad, saved, count,
                                                                                                    vectorized);
    EGC_CUDA_CHECK_LAUNCH(activation_backward_kernel);
  });
}

}  // namespace egc::cuda
