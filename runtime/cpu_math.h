// The CPU reference math, templated on the scalar so that the same code runs in float32 (the
// CPU backend) and float64 (the reference the tests compare gradients against). Row-major.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/dropout.h"
#include "kernels/elementwise_math.h"

namespace egc::cpu {

// C[m x n] = op(A) op(B) + beta C. Every element of C accumulates over k in order, so results
// do not depend on threads. op(B) = B^T is first transposed into `scratch` (k x n values) so
// that the inner loop runs along contiguous rows for every case.
template <class T>
void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const T* a,
          const T* b, T beta, T* c, T* scratch) {
  const T* b_rows = b;  // k x n, row-major
  if (transpose_b) {    // b is n x k
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t p = 0; p < k; ++p) scratch[p * n + j] = b[j * k + p];
    b_rows = scratch;
  }
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t row = 0; row < static_cast<std::ptrdiff_t>(m); ++row) {
    const std::size_t i = static_cast<std::size_t>(row);
    T* c_row = c + i * n;
    if (beta == T(0)) {
      std::memset(c_row, 0, n * sizeof(T));
    } else if (beta != T(1)) {
      for (std::size_t j = 0; j < n; ++j) c_row[j] *= beta;
    }
    for (std::size_t p = 0; p < k; ++p) {
      const T a_ip = transpose_a ? a[p * m + i] : a[i * k + p];
      const T* b_row = b_rows + p * n;
      for (std::size_t j = 0; j < n; ++j) c_row[j] += a_ip * b_row[j];
    }
  }
}

// body(e, kept) for every element e of [0, count) in increasing order, kept as mask.keep(e) says,
// each group of four elements' Philox block drawn once (keep(e) draws its element's whole block:
// four times the work), as the CUDA bodies' kept_elements<4> does.
template <class Body>
void for_each_masked(const math::DropoutMask& mask, std::size_t count, Body body) {
  for (std::size_t first = 0; first < count; first += 4) {
    const math::Philox4x32 words = mask.draw(first / 4);
    const std::size_t end = std::min(count, first + 4);
    for (std::size_t e = first; e < end; ++e) body(e, words.v[e - first] >= mask.threshold);
  }
}

// element(e, kept) for every element e of [0, count): with dropout through for_each_masked, else
// in a plain loop with every element kept. Called inside math::with_activation, so that each
// loop is compiled once per activation with no per-element switch: with the switch inside,
// relu's max was a branch that mispredicts on values of either sign (about 6 ns an element
// against 0.2 vectorised), which made a kernel's cost depend on its values.
template <class Element>
void for_each_element(const math::DropoutMask& mask, std::size_t count, Element element) {
  if (mask.enabled()) return for_each_masked(mask, count, element);
  for (std::size_t e = 0; e < count; ++e) element(e, true);
}

// out = dropout(activation(out + bias)) by column; pre (when not null) receives out + bias. Without
// dropout (a disabled mask) an element is kept and scaled by exactly 1.
template <class T>
void bias_activation_forward(T* out, T* pre, const T* bias, std::size_t rows, std::size_t cols, int activation,
                             const math::DropoutMask& mask = {}) {
  math::with_activation(activation, [&](auto code) {  // without the mask: this loop vectorises
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) {
        const std::size_t e = i * cols + j;
        const T z = out[e] + bias[j];
        if (pre) pre[e] = z;
        out[e] = math::activate(code(), z);
      }
  });
  // Dropout in a second pass over the activations: activate_dropped(code, z, kept, scale) is
  // kept ? activate(z) * scale : 0, the same bits. In one pass the loop cannot vectorise (the
  // Philox draws), and GCC then made relu's max a branch that mispredicts on either sign.
  if (!mask.enabled()) return;
  const T scale = static_cast<T>(mask.scale);
  for_each_masked(mask, rows * cols, [&](std::size_t e, bool kept) { out[e] = kept ? out[e] * scale : T(0); });
}

// out = dropout(activation(pre)): a block's backward recomputing its inner activation.
template <class T>
void activation_forward(const T* pre, T* out, std::size_t rows, std::size_t cols, int activation,
                        const math::DropoutMask& mask = {}) {
  const T scale = static_cast<T>(mask.scale);
  math::with_activation(activation, [&](auto code) {
    for_each_element(mask, rows * cols,
                     [&](std::size_t e, bool kept) { out[e] = math::activate_dropped(code(), pre[e], kept, scale); });
  });
}

// grad = dL/d pre-activation from dL/d (dropped) output, in place; `saved` is what
// activation_derivative reads (the output, or with from_pre the pre-activation).
template <class T>
void activation_backward(T* grad, const T* saved, std::size_t rows, std::size_t cols, int activation,
                         bool from_pre = false, const math::DropoutMask& mask = {}) {
  if (activation == math::kIdentity && !mask.enabled()) return;
  const T scale = static_cast<T>(mask.scale);
  math::with_activation(activation, [&](auto code) {
    for_each_element(mask, rows * cols, [&](std::size_t e, bool kept) {
      grad[e] = math::dropped_gradient(code(), grad[e], saved[e], from_pre, kept, scale);
    });
  });
}

// out += bias (by column) + residual: the epilogue of a block's second Linear, y = x + Linear2(...).
template <class T>
void bias_residual_forward(T* out, const T* bias, const T* residual, std::size_t rows, std::size_t cols) {
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) out[i * cols + j] = (out[i * cols + j] + bias[j]) + residual[i * cols + j];
}

// LayerNorm of each row; stats = mean[rows] then rstd[rows]: computed (and written when not null)
// with compute_stats, read otherwise.
template <class T>
void layernorm_forward(const T* x, T* out, T* stats, const T* gamma, const T* beta, std::size_t rows, std::size_t cols,
                       bool compute_stats) {
  for (std::size_t i = 0; i < rows; ++i) {
    T mean, rstd;
    if (compute_stats) {
      math::row_moments(x + i * cols, cols, mean, rstd);
      if (stats) stats[i] = mean, stats[rows + i] = rstd;
    } else {
      mean = stats[i], rstd = stats[rows + i];
    }
    for (std::size_t j = 0; j < cols; ++j)
      out[i * cols + j] = math::layernorm_value(x[i * cols + j], mean, rstd, gamma[j], beta[j]);
  }
}

// grad_x += dL/dx of LayerNorm for output gradient g (grad_x may hold the residual's gradient);
// grad_gamma = column sums of g x-hat, grad_beta of g (float64, added to when accumulate).
template <class T>
void layernorm_backward(const T* g, const T* x, const T* stats, const T* gamma, T* grad_x, T* grad_gamma,
                        T* grad_beta, std::size_t rows, std::size_t cols, bool accumulate) {
  for (std::size_t j = 0; j < cols; ++j) {
    double gamma_sum = 0, beta_sum = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const T value = g[i * cols + j];
      gamma_sum += static_cast<double>(value * math::normalized(x[i * cols + j], stats[i], stats[rows + i]));
      beta_sum += static_cast<double>(value);
    }
    grad_gamma[j] = accumulate ? static_cast<T>(grad_gamma[j] + static_cast<T>(gamma_sum)) : static_cast<T>(gamma_sum);
    grad_beta[j] = accumulate ? static_cast<T>(grad_beta[j] + static_cast<T>(beta_sum)) : static_cast<T>(beta_sum);
  }
  for (std::size_t i = 0; i < rows; ++i) {
    const T mean = stats[i], rstd = stats[rows + i];
    const math::RowGradientMeans<T> means = math::layernorm_row_means(g + i * cols, x + i * cols, gamma, mean, rstd, cols);
    for (std::size_t j = 0; j < cols; ++j)
      grad_x[i * cols + j] += math::layernorm_input_gradient(g[i * cols + j], gamma[j], x[i * cols + j], mean, rstd, means);
  }
}

// Column sums in float64, rounded once: the reference is as exact as float32 output allows.
template <class T>
void bias_gradient(const T* grad, T* bias_grad, std::size_t rows, std::size_t cols, bool accumulate) {
  for (std::size_t j = 0; j < cols; ++j) {
    double sum = 0;
    for (std::size_t i = 0; i < rows; ++i) sum += static_cast<double>(grad[i * cols + j]);
    bias_grad[j] = accumulate ? static_cast<T>(bias_grad[j] + static_cast<T>(sum)) : static_cast<T>(sum);
  }
}

template <class T>
void mse_loss(const T* pred, const T* target, T* loss, T* grad, std::size_t rows, std::size_t cols, T scale) {
  const std::size_t count = rows * cols;
  double sum = 0;
  for (std::size_t e = 0; e < count; ++e) {
    const T diff = pred[e] - target[e];
    sum += static_cast<double>(diff) * static_cast<double>(diff);
    grad[e] = scale * T(2) * diff / static_cast<T>(count);
  }
  *loss = static_cast<T>(sum / static_cast<double>(count));
}

// loss[0] = the mean over rows of the rows' cross-entropies (summed in float64, rounded once);
// correct = rows whose largest logit is the target; grad[rows x classes] as cross_entropy_gradient.
// The targets are class indices stored as T, checked by the data loader to lie in [0, classes).
template <class T>
std::size_t cross_entropy_loss(const T* logits, const T* targets, T* loss, T* grad, std::size_t rows,
                               std::size_t classes, T scale) {
  double sum = 0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const T* z = logits + i * classes;
    const std::size_t target = static_cast<std::size_t>(targets[i]);
    const math::RowCrossEntropy<T> row = math::row_cross_entropy(z, classes, target);
    sum += row.loss;
    correct += row.correct ? 1 : 0;
    for (std::size_t j = 0; j < classes; ++j)
      grad[i * classes + j] = math::cross_entropy_gradient(z[j], row.lse, j, target, scale, static_cast<T>(rows));
  }
  *loss = static_cast<T>(sum / static_cast<double>(rows));
  return correct;
}

template <class T>
void sgd_update(T* params, const T* grads, T* velocity, std::size_t count, T lr, T momentum) {
  for (std::size_t e = 0; e < count; ++e)
    math::sgd_step(params[e], grads[e], velocity ? velocity + e : nullptr, lr, momentum);
}

template <class T>
void adam_update(T* params, const T* grads, T* m, T* v, std::size_t count, T lr, T beta1, T beta2, T eps,
                 std::size_t step) {
  const T bias_correction1 = T(1) - static_cast<T>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const T bias_correction2 = T(1) - static_cast<T>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const T step_size = lr / bias_correction1;
  const T sqrt_bc2 = math::sqrt_of(bias_correction2);
  for (std::size_t e = 0; e < count; ++e)
    math::adam_step(params[e], grads[e], m[e], v[e], beta1, beta2, eps, step_size, sqrt_bc2);
}

template <class T>
void gather_rows(const T* source, const std::uint32_t* indices, T* destination, std::size_t rows, std::size_t cols) {
  for (std::size_t r = 0; r < rows; ++r)
    std::memcpy(destination + r * cols, source + static_cast<std::size_t>(indices[r]) * cols, cols * sizeof(T));
}

}  // namespace egc::cpu
