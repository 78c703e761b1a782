// Launchers of LayerNorm's kernels: the forward (row statistics, one thread per row, then the
// normalised output, one thread per element) and the backward (row means, then the input
// gradient added in place, then gamma's and beta's gradients as deterministic column sums).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace egc::cuda {

// Scratch bytes the forward (statistics not kept) and the backward need beyond their arguments:
// the larger of 2 x rows floats and the column sums' partials for `cols` columns.
std::size_t layernorm_scratch_bytes_for(std::size_t rows, std::size_t cols);

// out = (x - mean) rstd gamma + beta per row; stats (2 x rows: mean, rstd) computed from x and
// written to `stats`, or to the scratch when stats is null; without compute_stats, read from it.
void layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                       std::size_t rows, std::size_t cols, bool compute_stats, void* scratch, std::size_t scratch_bytes,
                       cudaStream_t stream);

// grad_x += LayerNorm's input gradient for output gradient g; grad_gamma, grad_beta = column sums
// of g x-hat and g (added to when accumulate). `product` holds rows x cols floats (g x-hat).
void layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma, float* grad_x,
                        float* grad_gamma, float* grad_beta, std::size_t rows, std::size_t cols, bool accumulate,
                        float* product, void* scratch, std::size_t scratch_bytes, cudaStream_t stream);

}  // namespace egc::cuda
