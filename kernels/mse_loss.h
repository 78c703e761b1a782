// Launchers of the MSE loss: its value (a CUB device reduction, deterministic run to run on one
// device) and its gradient. The loss is written to a float in device memory (the plan's loss
// buffer), never read back here.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace egc::cuda {

// Scratch bytes mse_loss_forward needs for `count` elements: a float64 partial result and
// CUB's temporary storage (CUB is asked, so this needs a current CUDA device).
std::size_t mse_loss_forward_scratch_bytes(std::size_t count);

// loss[0] = mean over `count` elements of (pred - target)^2, summed in float64 (as the CPU
// reference does) and rounded to float once.
void mse_loss_forward(const float* pred, const float* target, float* loss, std::size_t count, void* scratch,
                      std::size_t scratch_bytes, cudaStream_t stream);

// grad = scale * 2 (pred - target) / count, element-wise, in the CPU reference's order.
void mse_loss_backward(const float* pred, const float* target, float* grad, std::size_t count, float scale,
                       cudaStream_t stream);

}  // namespace egc::cuda
