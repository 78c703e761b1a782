// Per-element math shared by the CPU reference and the CUDA kernels: activations and their
// derivatives, softmax cross-entropy of one row, and the SGD-momentum and Adam updates of one
// parameter. One formula, two backends.
#pragma once

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(__CUDACC__)
#define EGC_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define EGC_HOST_DEVICE inline
#endif

namespace egc::math {

// Activation codes as plain ints so that kernels need no planner header.
enum ActivationCode : int { kIdentity = 0, kRelu = 1, kGelu = 2, kTanh = 3, kActivationCodeCount };

template <class T>
EGC_HOST_DEVICE T tanh_of(T x) {
  using std::tanh;
  return tanh(x);
}
template <class T>
EGC_HOST_DEVICE T sqrt_of(T x) {
  using std::sqrt;
  return sqrt(x);
}
template <class T>
EGC_HOST_DEVICE T exp_of(T x) {
  using std::exp;
  return exp(x);
}

// GELU, tanh approximation (PyTorch's approximate='tanh'):
// 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
// computed through the identity 0.5 (1 + tanh(u)) = 1 / (1 + e), e = exp(-2u): one exp of a clamped
// argument instead of tanh. Why: the host's tanh takes a different path by the magnitude of its
// argument, so a layer's GELU cost depended on its values (deep chains carry small ones) and a
// device profile could not predict it; exp on [-80, 80] costs the same for every value, about a
// third of tanh's on the CPU reference, and 1 + tanh(u) no longer cancels for negative u (the
// tail's relative error falls from percents to ~1e-6 in float). Outside [-80, 80], 1 + e is
// within float rounding of 1 or of e, so the clamp changes nothing visible.
template <class T>
struct GeluTerms {
  T e;   // exp(-2u), clamped
  T s;   // 1 / (1 + e) = 0.5 (1 + tanh(u))
  T du;  // du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
};
template <class T>
EGC_HOST_DEVICE GeluTerms<T> gelu_terms(T x) {
  const T k = T(0.7978845608028654);  // sqrt(2/pi)
  const T c = T(0.044715);
  T a = T(-2) * k * (x + c * x * x * x);
  a = a < T(-80) ? T(-80) : (a > T(80) ? T(80) : a);
  const T e = exp_of(a);
  return {e, T(1) / (T(1) + e), k * (T(1) + T(3) * c * x * x)};
}

template <class T>
EGC_HOST_DEVICE T gelu(T x) {
  return x * gelu_terms(x).s;
}

// d/dx [x s] = s + x s' with s' = 2 s (1 - s) du/dx and 1 - s = e s (no cancellation near s = 1).
template <class T>
EGC_HOST_DEVICE T gelu_derivative(T x) {
  const GeluTerms<T> g = gelu_terms(x);
  return g.s + T(2) * x * (g.e * g.s * g.s) * g.du;
}

template <class T>
EGC_HOST_DEVICE T activate(int code, T z) {
  switch (code) {
    case kRelu: return z > T(0) ? z : T(0);
    case kGelu: return gelu(z);
    case kTanh: return tanh_of(z);
    default: return z;
  }
}

// Calls run(std::integral_constant<int, code>) for a runtime activation code (host only), so that
// a loop over elements is compiled once per activation, with no per-element switch (the CUDA
// launchers' kernels; the CPU reference's loops, where relu's max then vectorises).
template <class Run>
void with_activation(int activation, Run run) {
  static_assert(kActivationCodeCount == 4, "with_activation names every activation code");
  switch (activation) {
    case kIdentity: return run(std::integral_constant<int, kIdentity>{});
    case kRelu: return run(std::integral_constant<int, kRelu>{});
    case kGelu: return run(std::integral_constant<int, kGelu>{});
    case kTanh: return run(std::integral_constant<int, kTanh>{});
  }
  throw std::logic_error("unknown activation code " + std::to_string(activation));
}

// The derivative from what the backward pass keeps (planner SavedForBackward): the output for
// relu and tanh, the pre-activation for GELU; `from_pre` says tanh's is its pre-activation (a
// layer with dropout keeps that, its output being scaled). relu's is alike from either.
template <class T>
EGC_HOST_DEVICE T activation_derivative(int code, T saved, bool from_pre = false) {
  switch (code) {
    case kRelu: return static_cast<T>(saved > T(0));  // 1 or 0, as a value: no branch on the CPU
    case kGelu: return gelu_derivative(saved);
    case kTanh: {
      const T t = from_pre ? tanh_of(saved) : saved;
      return T(1) - t * t;
    }
    default: return T(1);
  }
}

// LayerNorm (torch.nn.LayerNorm's eps): the mean and 1/sqrt(variance + eps) of a row of `cols`
// values, both in float64 (two passes: the mean, then the squared deviations), rounded once.
constexpr double kLayerNormEps = 1e-5;
template <class T>
EGC_HOST_DEVICE void row_moments(const T* x, std::size_t cols, T& mean, T& rstd) {
  double sum = 0;
  for (std::size_t j = 0; j < cols; ++j) sum += static_cast<double>(x[j]);
  const double m = sum / static_cast<double>(cols);
  double squares = 0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double d = static_cast<double>(x[j]) - m;
    squares += d * d;
  }
  using std::sqrt;
  mean = static_cast<T>(m);
  rstd = static_cast<T>(1.0 / sqrt(squares / static_cast<double>(cols) + kLayerNormEps));
}

// The normalised value x-hat and LayerNorm's output gamma x-hat + beta.
template <class T>
EGC_HOST_DEVICE T normalized(T x, T mean, T rstd) {
  return (x - mean) * rstd;
}
template <class T>
EGC_HOST_DEVICE T layernorm_value(T x, T mean, T rstd, T gamma, T beta) {
  return normalized(x, mean, rstd) * gamma + beta;
}

// LayerNorm's backward for one row: with g = dL/d output and gh = g gamma, the row means
// A = mean(gh) and B = mean(gh x-hat) (float64 sums, rounded once), and then per element
// dL/dx = rstd (gh - A - x-hat B).
template <class T>
struct RowGradientMeans {
  T a, b;
};
template <class T>
EGC_HOST_DEVICE RowGradientMeans<T> layernorm_row_means(const T* g, const T* x, const T* gamma, T mean, T rstd,
                                                        std::size_t cols) {
  double a = 0, b = 0;
  for (std::size_t j = 0; j < cols; ++j) {
    const T gh = g[j] * gamma[j];
    a += static_cast<double>(gh);
    b += static_cast<double>(gh) * static_cast<double>(normalized(x[j], mean, rstd));
  }
  return {static_cast<T>(a / static_cast<double>(cols)), static_cast<T>(b / static_cast<double>(cols))};
}
template <class T>
EGC_HOST_DEVICE T layernorm_input_gradient(T g, T gamma, T x, T mean, T rstd, const RowGradientMeans<T>& means) {
  return rstd * ((g * gamma - means.a) - normalized(x, mean, rstd) * means.b);
}

// Softmax cross-entropy of one row of `classes` logits against class `target`, numerically stable:
// lse = max + log(sum exp(z - max)) (the sum in float64), the row's loss lse - z[target] in
// float64, and whether the largest logit (the first of equal ones, as torch.argmax) is the target.
template <class T>
struct RowCrossEntropy {
  T lse;
  double loss;
  bool correct;
};
template <class T>
EGC_HOST_DEVICE RowCrossEntropy<T> row_cross_entropy(const T* z, std::size_t classes, std::size_t target) {
  T largest = z[0];
  std::size_t argmax = 0;
  for (std::size_t j = 1; j < classes; ++j)
    if (z[j] > largest) largest = z[j], argmax = j;
  double sum = 0;
  for (std::size_t j = 0; j < classes; ++j) sum += static_cast<double>(exp_of(z[j] - largest));
  using std::log;
  const T lse = largest + static_cast<T>(log(sum));
  return {lse, static_cast<double>(lse) - static_cast<double>(z[target]), argmax == target};
}

// The gradient of scale * (mean loss over `rows`) at logit z of class `column` in a row with
// log-sum-exp lse and target `target`: scale * (softmax - one_hot) / rows.
template <class T>
EGC_HOST_DEVICE T cross_entropy_gradient(T z, T lse, std::size_t column, std::size_t target, T scale, T rows) {
  return scale * (exp_of(z - lse) - (column == target ? T(1) : T(0))) / rows;
}

// PyTorch's SGD with momentum (dampening 0, no Nesterov, no weight decay):
// v = momentum v + g; p -= lr v. With momentum 0 there is no velocity: p -= lr g.
template <class T>
EGC_HOST_DEVICE void sgd_step(T& param, T grad, T* velocity, T lr, T momentum) {
  if (velocity) {
    *velocity = momentum * *velocity + grad;
    param -= lr * *velocity;
  } else {
    param -= lr * grad;
  }
}

// PyTorch's Adam in the same arithmetic order: m and v moving averages, then
// p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), with bc1 = 1 - beta1^t, bc2 = 1 - beta2^t.
// step_size = lr / bc1 and sqrt_bc2 = sqrt(bc2) are computed once per step by the caller.
template <class T>
EGC_HOST_DEVICE void adam_step(T& param, T grad, T& m, T& v, T beta1, T beta2, T eps, T step_size,
                               T sqrt_bc2) {
  m = beta1 * m + (T(1) - beta1) * grad;
  v = beta2 * v + (T(1) - beta2) * grad * grad;
  const T denom = sqrt_of(v) / sqrt_bc2 + eps;
  param -= step_size * (m / denom);
}

}  // namespace egc::math
