// Optimizer kernels: SGD-momentum and Adam, vectorized in packs of 4 floats with a scalar tail
// (the packed parameter buffer has no padding: its length is any number of floats).
#include "kernels/optimizer.h"

#include <cmath>

#include "kernels/cuda_check.h"
#include "kernels/elementwise_math.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.cuh"

namespace egc::cuda {
namespace {

template <bool Momentum>
__global__ void sgd_update_kernel(float* __restrict__ params, const float* __restrict__ grads,
                                  float* __restrict__ velocity, std::size_t count, float lr, float momentum,
                                  bool vectorized) {
  for_each_pack(count, vectorized, [=](std::size_t first, auto width) {
    constexpr int n = decltype(width)::value;
    Pack<n> p = load_pack<n>(params + first);
    const Pack<n> g = load_pack<n>(grads + first);
    Pack<n> vel{};
    if constexpr (Momentum) vel = load_pack<n>(velocity + first);
    for (int i = 0; i < n; ++i) math::sgd_step(p.v[i], g.v[i], Momentum ? &vel.v[i] : nullptr, lr, momentum);
    store_pack<n>(params + first, p);
    if constexpr (Momentum) store_pack<n>(velocity + first, vel);
  });
}

__global__ void adam_update_kernel(float* __restrict__ params, const float* __restrict__ grads, float* __restrict__ m,
                                   float* __restrict__ v, std::size_t count, float beta1, float beta2, float eps,
                                   float step_size, float sqrt_bc2, bool vectorized) {
  for_each_pack(count, vectorized, [=](std::size_t first, auto width) {
    constexpr int n = decltype(width)::value;
    Pack<n> p = load_pack<n>(params + first);
    const Pack<n> g = load_pack<n>(grads + first);
    Pack<n> mm = load_pack<n>(m + first);
    Pack<n> vv = load_pack<n>(v + first);
    for (int i = 0; i < n; ++i)
      math::adam_step(p.v[i], g.v[i], mm.v[i], vv.v[i], beta1, beta2, eps, step_size, sqrt_bc2);
    store_pack<n>(params + first, p);
    store_pack<n>(m + first, mm);
    store_pack<n>(v + first, vv);
  });
}

}  // namespace

void sgd_update(float* params, const float* grads, float* velocity, std::size_t count, float lr, float momentum,
                cudaStream_t stream) {
  if (count == 0) return;
  const bool vectorized = aligned16(params) && aligned16(grads) && (velocity == nullptr || aligned16(velocity));
  if (velocity) {
    sgd_update_kernel<true><<<pack_blocks(count, vectorized), kThreadsPerBlock, 0, stream>>>(
        params, grads, velocity, count, lr, momentum, vectorized);
  } else {
    sgd_update_kernel<false><<<pack_blocks(count, vectorized), kThreadsPerBlock, 0, stream>>>(
        params, grads, velocity, count, lr, momentum, vectorized);
  }
  EGC_CUDA_CHECK_LAUNCH(sgd_update_kernel);
}

void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count, float lr, float beta1,
                 float beta2, float eps, std::size_t step, cudaStream_t stream) {
  if (count == 0) return;
  // As cpu::adam_update: float64 powers rounded to float, then float arithmetic.
  const float bias_correction1 =
      1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bias_correction2 =
      1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / bias_correction1;
  const float sqrt_bc2 = math::sqrt_of(bias_correction2);
  const bool vectorized = aligned16(params) && aligned16(grads) && aligned16(m) && aligned16(v);
  adam_update_kernel<<<pack_blocks(count, vectorized), kThreadsPerBlock, 0, stream>>>(
      params, grads, m, v, count, beta1, beta2, eps, step_size, sqrt_bc2, vectorized);
  EGC_CUDA_CHECK_LAUNCH(adam_update_kernel);
}

}  // namespace egc::cuda
