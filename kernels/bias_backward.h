// Launchers of the bias gradient: column sums of a row-major matrix, deterministic (a fixed
// summation order, no atomics), in two stages through scratch memory of the plan's workspace.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/column_sum.h"  // bias_backward_scratch_bytes, the geometry, the per-thread work

namespace egc::cuda {

// bias_grad[cols] = column sums of grad[rows x cols] (added to bias_grad when accumulate).
// Stage 1: blocks of 32 columns x 8 row lanes sum a chunk of rows each (coalesced loads) into
// partial sums; stage 2: one thread per column adds the chunks' partials in chunk order.
void bias_backward(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols, bool accumulate,
                   void* scratch, std::size_t scratch_bytes, cudaStream_t stream);

// The same sums with CUB's block primitive: one block per column, cub::BlockReduce over the
// column's rows (strided loads). Deterministic too; kept as the baseline that bias_backward is
// measured against (bench/gpu_step_bench) and tested like it.
void bias_backward_cub(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols, bool accumulate,
                       cudaStream_t stream);

}  // namespace egc::cuda
