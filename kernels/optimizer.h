// Launchers of the optimizer updates: one fused kernel each over all parameters of the packed
// parameter buffer, with the per-parameter math of elementwise_math.h (the CPU's formula).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace egc::cuda {

// PyTorch's SGD with momentum; velocity == nullptr: plain SGD (momentum 0).
void sgd_update(float* params, const float* grads, float* velocity, std::size_t count, float lr, float momentum,
                cudaStream_t stream);

// PyTorch's Adam; `step` counts from 1. The bias corrections are computed on the host exactly as
// the CPU reference computes them, so both backends run the same per-element arithmetic.
void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count, float lr, float beta1,
                 float beta2, float eps, std::size_t step, cudaStream_t stream);

}  // namespace egc::cuda
