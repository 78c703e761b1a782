// Per-element math shared by the CPU reference and the CUDA kernels: activations and their
// derivatives, and the SGD-momentum and Adam updates of one parameter. One formula, two backends.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define EGC_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define EGC_HOST_DEVICE inline
#endif

namespace egc::math {

// Activation codes as plain ints so that kernels need no planner header.
enum ActivationCode : int { kIdentity = 0, kRelu = 1, kGelu = 2, kTanh = 3 };

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

// GELU, tanh approximation (PyTorch's approximate='tanh'):
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class T>
EGC_HOST_DEVICE T gelu(T x) {
  const T k = T(0.7978845608028654);  // sqrt(2/pi)
  const T c = T(0.044715);
  return T(0.5) * x * (T(1) + tanh_of(k * (x + c * x * x * x)));
}

template <class T>
EGC_HOST_DEVICE T gelu_derivative(T x) {
  const T k = T(0.7978845608028654);
  const T c = T(0.044715);
  const T t = tanh_of(k * (x + c * x * x * x));
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c * x * x);
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

// The derivative from what the backward pass keeps: the output for relu and tanh, the
// pre-activation for GELU (see planner SavedForBackward).
template <class T>
EGC_HOST_DEVICE T activation_derivative(int code, T saved) {
  switch (code) {
    case kRelu: return saved > T(0) ? T(1) : T(0);
    case kGelu: return gelu_derivative(saved);
    case kTanh: return T(1) - saved * saved;
    default: return T(1);
  }
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
