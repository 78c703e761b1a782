// Launchers of the softmax cross-entropy: one thread per row for its log-sum-exp, loss and
// correctness, one thread per logit for the gradient, and CUB device reductions (deterministic
// run to run on one device) of the rows' losses and correct counts into the loss buffer.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace egc::cuda {

// Scratch bytes for `rows` rows (row results, the two sums and CUB's storage; CUB is asked, so
// this needs a current CUDA device).
std::size_t cross_entropy_scratch_bytes(std::size_t rows);

// loss[0] = mean over rows of lse - logit[target] (float64 sums, rounded once); loss[1] (a uint32)
// = rows whose largest logit is the target; grad = scale (softmax - one_hot) / rows.
void cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad, std::size_t rows,
                        std::size_t classes, float scale, void* scratch, std::size_t scratch_bytes,
                        cudaStream_t stream);

}  // namespace egc::cuda
