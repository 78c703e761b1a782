// Launchers of the activation kernels: fused bias + activation (+ dropout) forward, activation
// (+ dropout) from a kept pre-activation, and their backward. Row-major float32; `activation` is
// an egc::math::ActivationCode, `dropout` a mask of kernels/dropout.h (DropoutMask{}: none).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/dropout.h"

namespace egc::cuda {

// out[rows x cols] += bias (per column), then out = dropout(activation(out)); pre (when not null)
// receives the value before the activation.
void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                             int activation, const math::DropoutMask& dropout, cudaStream_t stream);

// out[rows x cols] = dropout(activation(pre)).
void activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols, int activation,
                        const math::DropoutMask& dropout, cudaStream_t stream);

// grad[rows x cols] = dropout's backward (x scale or 0) x activation'(saved), in place (saved:
// the output for relu and tanh, or with from_pre the pre-activation; GELU's always); nothing for
// identity without dropout.
void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, int activation,
                         bool from_pre, const math::DropoutMask& dropout, cudaStream_t stream);

// out[rows x cols] += bias (per column) + residual: a residual block's epilogue.
void bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows, std::size_t cols,
                           cudaStream_t stream);

}  // namespace egc::cuda
