// The bodies of the row-wise kernels as __host__ __device__ functors: LayerNorm's statistics and
// backward row means, and softmax cross-entropy's rows (one thread per row, the row's sums in
// the CPU reference's order), with the element-wise kernels that use their results (one thread
// per element, coalesced). CPU tests run them over the launcher's grid (vector_access.h); the
// math is elementwise_math.h's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/elementwise_math.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {

// Row r of x[rows x cols]: stats[r] = mean, stats[rows + r] = 1/sqrt(variance + eps).
struct LayerNormRowStats {
  const float* x;
  float* stats;
  std::size_t rows, cols;

  EGC_HOST_DEVICE void operator()(std::size_t row) const {
    math::row_moments(x + row * cols, cols, stats[row], stats[rows + row]);
  }
};

// Element e: out = (x - mean) rstd gamma + beta with its row's statistics.
struct LayerNormApply {
  const float* x;
  float* out;
  const float* stats;
  const float* gamma;
  const float* beta;
  std::size_t rows, cols;

  EGC_HOST_DEVICE void operator()(std::size_t e) const {
    const std::size_t row = e / cols, col = e - row * cols;
    out[e] = math::layernorm_value(x[e], stats[row], stats[rows + row], gamma[col], beta[col]);
  }
};

// Row r of LayerNorm's backward: means[r] = mean(g gamma), means[rows + r] = mean(g gamma x-hat).
struct LayerNormRowMeans {
  const float* g;
  const float* x;
  const float* stats;
  const float* gamma;
  float* means;
  std::size_t rows, cols;

  EGC_HOST_DEVICE void operator()(std::size_t row) const {
    const math::RowGradientMeans<float> m =
        math::layernorm_row_means(g + row * cols, x + row * cols, gamma, stats[row], stats[rows + row], cols);
    means[row] = m.a;
    means[rows + row] = m.b;
  }
};

// Element e: grad_x += rstd (g gamma - A - x-hat B) with its row's means; and, where `product`
// is not null, product = g x-hat (whose column sums are gamma's gradient).
struct LayerNormInputGradient {
  const float* g;
  const float* x;
  const float* stats;
  const float* gamma;
  const float* means;
  float* grad_x;
  float* product;
  std::size_t rows, cols;

  EGC_HOST_DEVICE void operator()(std::size_t e) const {
    const std::size_t row = e / cols, col = e - row * cols;
    const float mean = stats[row], rstd = stats[rows + row];
    grad_x[e] += math::layernorm_input_gradient(g[e], gamma[col], x[e], mean, rstd,
                                                math::RowGradientMeans<float>{means[row], means[rows + row]});
    if (product) product[e] = g[e] * math::normalized(x[e], mean, rstd);
  }
};

// Row r of the softmax cross-entropy: its log-sum-exp, loss (float64) and whether it is right.
struct CrossEntropyRows {
  const float* logits;
  const float* targets;  // class indices as floats
  float* lse;
  double* loss;
  std::uint32_t* correct;
  std::size_t classes;

  EGC_HOST_DEVICE void operator()(std::size_t row) const {
    const math::RowCrossEntropy<float> r =
        math::row_cross_entropy(logits + row * classes, classes, static_cast<std::size_t>(targets[row]));
    lse[row] = r.lse;
    loss[row] = r.loss;
    correct[row] = r.correct ? 1u : 0u;
  }
};

// Element e: grad = scale (softmax - one_hot) / rows, from its row's log-sum-exp.
struct CrossEntropyGradient {
  const float* logits;
  const float* targets;
  const float* lse;
  float* grad;
  std::size_t classes;
  float scale;
  float rows;  // as the CPU reference divides by it

  EGC_HOST_DEVICE void operator()(std::size_t e) const {
    const std::size_t row = e / classes, col = e - row * classes;
    grad[e] = math::cross_entropy_gradient(logits[e], lse[row], col, static_cast<std::size_t>(targets[row]), scale, rows);
  }
};

// The loss from the rows' sum (in float64, rounded once) and the correct count beside it, read
// as a uint32 (the loss buffer's layout for cross-entropy).
EGC_HOST_DEVICE void finish_cross_entropy(double loss_sum, std::uint32_t correct, std::size_t rows, float* loss) {
  loss[0] = static_cast<float>(loss_sum / static_cast<double>(rows));
  std::memcpy(loss + 1, &correct, sizeof correct);
}

// The scratch a row kernel's results need, laid out 256-byte aligned in the plan's workspace:
// LayerNorm: 2 x rows floats (statistics or row means); cross-entropy: rows floats (log-sum-exps),
// rows doubles (losses), rows uint32 (correct), then the reduction's two results.
constexpr std::size_t kScratchAlignment = 256;
constexpr std::size_t scratch_align(std::size_t bytes) {
  return (bytes + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment;
}
inline std::size_t layernorm_scratch_bytes(std::size_t rows) { return scratch_align(2 * rows * sizeof(float)); }

struct CrossEntropyScratch {
  std::size_t lse = 0, loss = 0, correct = 0, sums = 0, end = 0;  // byte offsets
};
inline CrossEntropyScratch cross_entropy_scratch(std::size_t rows) {
  CrossEntropyScratch s;
  s.loss = s.lse + scratch_align(rows * sizeof(float));
  s.correct = s.loss + scratch_align(rows * sizeof(double));
  s.sums = s.correct + scratch_align(rows * sizeof(std::uint32_t));
  s.end = s.sums + scratch_align(2 * sizeof(double));  // the loss sum, then the correct count
  return s;
}

}  // namespace egc::cuda
