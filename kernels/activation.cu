// Activation kernels, one instantiation per activation so that the per-element switch of
// elementwise_math.h folds away; the math itself is the one the CPU reference uses.
#include "kernels/activation.h"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/cuda_check.h"
#include "kernels/elementwise_math.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.cuh"

namespace egc::cuda {
namespace {

template <int Code>
__global__ void bias_activation_forward_kernel(float* __restrict__ out, float* __restrict__ pre,
                                               const float* __restrict__ bias, std::size_t count, std::size_t cols,
                                               bool vectorized) {
  for_each_pack(count, vectorized, [=](std::size_t first, auto width) {
    constexpr int n = decltype(width)::value;
    Pack<n> value = load_pack<n>(out + first);
    std::size_t col = first % cols;
    for (int i = 0; i < n; ++i) {
      value.v[i] += bias[col];
      if (++col == cols) col = 0;
    }
    if (pre) store_pack<n>(pre + first, value);
    for (int i = 0; i < n; ++i) value.v[i] = math::activate(Code, value.v[i]);
    store_pack<n>(out + first, value);
  });
}

template <int Code>
__global__ void activation_backward_kernel(float* __restrict__ grad, const float* __restrict__ saved,
                                           std::size_t count, bool vectorized) {
  for_each_pack(count, vectorized, [=](std::size_t first, auto width) {
    constexpr int n = decltype(width)::value;
    Pack<n> g = load_pack<n>(grad + first);
    const Pack<n> s = load_pack<n>(saved + first);
    for (int i = 0; i < n; ++i) g.v[i] *= math::activation_derivative(Code, s.v[i]);
    store_pack<n>(grad + first, g);
  });
}

// Calls launch(std::integral_constant<int, code>) for a runtime activation code.
template <class Launch>
void with_activation(int activation, Launch launch) {
  switch (activation) {
    case math::kIdentity: return launch(std::integral_constant<int, math::kIdentity>{});
    case math::kRelu: return launch(std::integral_constant<int, math::kRelu>{});
    case math::kGelu: return launch(std::integral_constant<int, math::kGelu>{});
    case math::kTanh: return launch(std::integral_constant<int, math::kTanh>{});
  }
  throw std::logic_error("unknown activation code " + std::to_string(activation));
}

}  // namespace

void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                             int activation, cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0) return;
  const bool vectorized = aligned16(out) && (pre == nullptr || aligned16(pre));
  with_activation(activation, [&](auto code) {
    bias_activation_forward_kernel<decltype(code)::value>
        <<<pack_blocks(count, vectorized), kThreadsPerBlock, 0, stream>>>(out, pre, bias, count,
                                                                                          cols, vectorized);
    EGC_CUDA_CHECK_LAUNCH(bias_activation_forward_kernel);
  });
}

void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, int activation,
                         cudaStream_t stream) {
  const std::size_t count = rows * cols;
  if (count == 0 || activation == math::kIdentity) return;
  const bool vectorized = aligned16(grad) && aligned16(saved);
  with_activation(activation, [&](auto code) {
    activation_backward_kernel<decltype(code)::value>
        <<<pack_blocks(count, vectorized), kThreadsPerBlock, 0, stream>>>(grad, saved, count,
                                                                                          vectorized);
    EGC_CUDA_CHECK_LAUNCH(activation_backward_kernel);
  });
}

}  // namespace egc::cuda
