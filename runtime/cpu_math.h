// The CPU reference math, templated on the scalar so that the same code runs in float32 (the
// CPU backend) and float64 (the reference the tests compare gradients against). Row-major.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

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

template <class T>
void bias_activation_forward(T* out, T* pre, const T* bias, std::size_t rows, std::size_t cols, int activation) {
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      const T z = out[i * cols + j] + bias[j];
      if (pre) pre[i * cols + j] = z;
      out[i * cols + j] = math::activate(activation, z);
    }
  }
}

template <class T>
void activation_backward(T* grad, const T* saved, std::size_t rows, std::size_t cols, int activation) {
  if (activation == math::kIdentity) return;
  for (std::size_t e = 0; e < rows * cols; ++e) grad[e] *= math::activation_derivative(activation, saved[e]);
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
