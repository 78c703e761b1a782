// The bodies of the element-wise kernels as __host__ __device__ functors: a kernel runs one
// through for_each_pack / for_each_index, CPU tests run the same functor through the host
// emulation of the launcher's grid (vector_access.h). The math is elementwise_math.h's.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/dropout.h"
#include "kernels/elementwise_math.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {

// Whether each element of a pack of N starting at `first` is kept by the dropout mask: a pack of
// 4 (which starts at a multiple of 4) is one Philox draw, as element-by-element keep() reads it.
template <int N>
EGC_HOST_DEVICE void kept_elements(const math::DropoutMask& mask, std::size_t first, bool (&kept)[N]) {
  if (!mask.enabled()) {
    for (int i = 0; i < N; ++i) kept[i] = true;
  } else if constexpr (N == 4) {
    const math::Philox4x32 draw = mask.draw(first / 4);
    for (int i = 0; i < 4; ++i) kept[i] = draw.v[i] >= mask.threshold;
  } else {
    kept[0] = mask.keep(first);
  }
}

// out[rows x cols] += bias by column, pre = that (when not null), out = dropout(activation(that)).
// The column of a pack's first element is first % cols; the next ones step it, wrapping at cols.
template <int Code>
struct BiasActivationForward {
  float* out;
  float* pre;
  const float* bias;
  std::size_t cols;
  math::DropoutMask mask;

  bool vectorizable() const { return aligned16(out) && (pre == nullptr || aligned16(pre)); }
  template <int N>
  EGC_HOST_DEVICE void operator()(std::size_t first, std::integral_constant<int, N>) const {
    Pack<N> value = load_pack<N>(out + first);
    std::size_t col = first % cols;
    for (int i = 0; i < N; ++i) {
      value.v[i] += bias[col];
      if (++col == cols) col = 0;
    }
    if (pre) store_pack<N>(pre + first, value);
    bool kept[N];
    kept_elements(mask, first, kept);
    for (int i = 0; i < N; ++i) value.v[i] = math::activate_dropped(Code, value.v[i], kept[i], mask.scale);
    store_pack<N>(out + first, value);
  }
};

// out = dropout(activation(pre)), element by element (a block's backward recomputing its
// inner activation from the kept pre-activation).
template <int Code>
struct ActivationForward {
  const float* pre;
  float* out;
  math::DropoutMask mask;

  bool vectorizable() const { return aligned16(out) && aligned16(pre); }
  template <int N>
  EGC_HOST_DEVICE void operator()(std::size_t first, std::integral_constant<int, N>) const {
    Pack<N> value = load_pack<N>(pre + first);
    bool kept[N];
    kept_elements(mask, first, kept);
    for (int i = 0; i < N; ++i) value.v[i] = math::activate_dropped(Code, value.v[i], kept[i], mask.scale);
    store_pack<N>(out + first, value);
  }
};

// grad = dropout's backward then x activation'(saved), element by element; `from_pre`: saved is
// the pre-activation (tanh's derivative then recomputes tanh).
template <int Code>
struct ActivationBackward {
  float* grad;
  const float* saved;
  bool from_pre;
  math::DropoutMask mask;

  bool vectorizable() const { return aligned16(grad) && aligned16(saved); }
  template <int N>
  EGC_HOST_DEVICE void operator()(std::size_t first, std::integral_constant<int, N>) const {
    Pack<N> g = load_pack<N>(grad + first);
    const Pack<N> s = load_pack<N>(saved + first);
    bool kept[N];
    kept_elements(mask, first, kept);
    for (int i = 0; i < N; ++i) g.v[i] = math::dropped_gradient(Code, g.v[i], s.v[i], from_pre, kept[i], mask.scale);
    store_pack<N>(grad + first, g);
  }
};

// out += bias (by column) + residual: a residual block's epilogue.
struct BiasResidualForward {
  float* out;
  const float* bias;
  const float* residual;
  std::size_t cols;

  bool vectorizable() const { return aligned16(out) && aligned16(residual); }
  template <int N>
  EGC_HOST_DEVICE void operator()(std::size_t first, std::integral_constant<int, N>) const {
    Pack<N> value = load_pack<N>(out + first);
    const Pack<N> r = load_pack<N>(residual + first);
    std::size_t col = first % cols;
    for (int i = 0; i < N; ++i) {
      value.v[i] = (value.v[i] + bias[col]) + r.v[i];
      if (++col == cols) col = 0;
    }
    store_pack<N>(out + first, value);
  }
};

using math::with_activation;

// SGD with momentum (velocity updated in place) or without (velocity unused, may be null).
template <bool Momentum>
struct SgdUpdate {
  float* params;
  const float* grads;
  float* velocity;
  float lr;
  float momentum;

  bool vectorizable() const { return aligned16(params) && aligned16(grads) && (!Momentum || aligned16(velocity)); }
  template <int N>
  EGC_HOST_DEVICE void operator()(std::size_t first, std::integral_constant<int, N>) const {
    Pack<N> p = load_pack<N>(params + first);
    const Pack<N> g = load_pack<N>(grads + first);
    Pack<N> vel{};
    if constexpr (Momentum) vel = load_pack<N>(velocity + first);
    for (int i = 0; i < N; ++i) math::sgd_step(p.v[i], g.v[i], Momentum ? &vel.v[i] : nullptr, lr, momentum);
    store_pack<N>(params + first, p);
    if constexpr (Momentum) store_pack<N>(velocity + first, vel);
  }
};

struct AdamUpdate {
  float* params;
  const float* grads;
  float* m;
  float* v;
  float beta1, beta2, eps;
  float step_size;  // lr / (1 - beta1^step)
  float sqrt_bc2;   // sqrt(1 - beta2^step)

  bool vectorizable() const { return aligned16(params) && aligned16(grads) && aligned16(m) && aligned16(v); }
  template <int N>
  EGC_HOST_DEVICE void operator()(std::size_t first, std::integral_constant<int, N>) const {
    Pack<N> p = load_pack<N>(params + first);
    const Pack<N> g = load_pack<N>(grads + first);
    Pack<N> mm = load_pack<N>(m + first);
    Pack<N> vv = load_pack<N>(v + first);
    for (int i = 0; i < N; ++i)
      math::adam_step(p.v[i], g.v[i], mm.v[i], vv.v[i], beta1, beta2, eps, step_size, sqrt_bc2);
    store_pack<N>(params + first, p);
    store_pack<N>(m + first, mm);
    store_pack<N>(v + first, vv);
  }
};

// Adam's body for step `step` (from 1), its bias corrections computed on the host as
// cpu::adam_update computes them: float64 powers rounded to float, then float arithmetic.
inline AdamUpdate adam_update_body(float* params, const float* grads, float* m, float* v, float lr, float beta1,
                                   float beta2, float eps, std::size_t step) {
  const float bias_correction1 =
      1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bias_correction2 =
      1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  return AdamUpdate{params, grads, m, v, beta1, beta2, eps, lr / bias_correction1, math::sqrt_of(bias_correction2)};
}

// The MSE loss's term of element e, in float64 as the CPU reference sums it.
EGC_HOST_DEVICE double squared_difference(const float* pred, const float* target, std::size_t e) {
  const float diff = pred[e] - target[e];
  return static_cast<double>(diff) * static_cast<double>(diff);
}

// The loss from the sum of the terms: one division in float64, rounded to float once.
EGC_HOST_DEVICE float mean_of_sum(double sum, std::size_t count) {
  return static_cast<float>(sum / static_cast<double>(count));
}

// grad[e] = scale * 2 (pred[e] - target[e]) / count, in the CPU reference's order.
struct MseGradient {
  const float* pred;
  const float* target;
  float* grad;
  float scale;
  float count;  // the element count as a float, as the CPU reference divides by it

  EGC_HOST_DEVICE void operator()(std::size_t e) const {
    const float diff = pred[e] - target[e];
    grad[e] = scale * 2.0f * diff / count;
  }
};

// destination[e] for destination element e: row e / cols of the batch is row indices[row] of the
// source. Consecutive e read and write consecutive floats of a row.
struct GatherRows {
  const float* source;
  const std::uint32_t* indices;
  float* destination;
  std::size_t cols;

  EGC_HOST_DEVICE void operator()(std::size_t e) const {
    const std::size_t row = e / cols;
    destination[e] = source[static_cast<std::size_t>(indices[row]) * cols + (e - row * cols)];
  }
};

}  // namespace egc::cuda
