// Optimizer kernels: SGD-momentum and Adam, vectorized in packs of 4 floats with a scalar tail
// (the packed parameter buffer has no padding: its length is any number of floats). Their bodies
// are elementwise_bodies.h's, which CPU tests run too.
#include "kernels/optimizer.h"

#include "kernels/cuda_check.h"
#include "kernels/elementwise_bodies.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"

namespace egc::cuda {
namespace {

template <bool Momentum>
__global__ void sgd_update_kernel(float* __restrict__ params, const float* __restrict__ grads,
                                  float* __restrict__ velocity, std::size_t count, float lr, float momentum,
                                  bool vectorized) {
  for_each_pack(count, vectorized, SgdUpdate<Momentum>{params, grads, velocity, lr, momentum});
}

__global__ void adam_update_kernel(float* __restrict__ params, const float* __restrict__ grads, float* __restrict__ m,
                                   float* __restrict__ v, std::size_t count, float beta1, float beta2, float eps,
                                   float step_size, float sqrt_bc2, bool vectorized) {
  for_each_pack(count, vectorized, AdamUpdate{params, grads, m, v, beta1, beta2, eps, step_size, sqrt_bc2});
}

template <bool Momentum>
void launch_sgd(float* params, const float* grads, float* velocity, std::size_t count, float lr, float momentum,
                cudaStream_t stream) {
  const bool vectorized = SgdUpdate<Momentum>{params, grads, velocity, lr, momentum}.vectorizable();
  const Launch launch = pack_launch(count, vectorized);
  sgd_update_kernel<Momentum><<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(
      params, grads, velocity, count, lr, momentum, vectorized);
  EGC_CUDA_CHECK_LAUNCH(sgd_update_kernel);
}

}  // namespace

void sgd_update(float* params, const float* grads, float* velocity, std::size_t count, float lr, float momentum,
                cudaStream_t stream) {
  if (count == 0) return;
  if (velocity)
    launch_sgd<true>(params, grads, velocity, count, lr, momentum, stream);
  else
    launch_sgd<false>(params, grads, velocity, count, lr, momentum, stream);
}

void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count, float lr, float beta1,
                 float beta2, float eps, std::size_t step, cudaStream_t stream) {
  if (count == 0) return;
  const AdamUpdate body = adam_update_body(params, grads, m, v, lr, beta1, beta2, eps, step);
  const bool vectorized = body.vectorizable();
  const Launch launch = pack_launch(count, vectorized);
  adam_update_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(
      params, grads, m, v, count, beta1, beta2, eps, body.step_size, body.sqrt_bc2, vectorized);
  EGC_CUDA_CHECK_LAUNCH(adam_update_kernel);
}

}  // namespace egc::cuda
