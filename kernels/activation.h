// Launchers of the activation kernels: fused bias + activation forward, activation backward.
// Row-major float32; `activation` is an egc::math::ActivationCode.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace egc::cuda {

// out[rows x cols] += bias (per column), then out = activation(out); pre (when not null)
// receives the value before the activation.
void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                             int activation, cudaStream_t stream);

// grad[rows x cols] *= activation'(saved) in place (saved: the output for relu and tanh, the
// pre-activation for GELU); nothing for identity.
void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, int activation,
                         cudaStream_t stream);

}  // namespace egc::cuda
