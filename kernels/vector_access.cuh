// Device helpers for the element-wise kernels: a grid-stride walk over [0, count) in packs of 4
// floats (one 16-byte load or store each) while aligned, then single floats for the tail.
#pragma once

#include <cstddef>
#include <type_traits>

namespace egc::cuda {

template <int N>
struct Pack {
  float v[N];
};

template <int N>
__device__ __forceinline__ Pack<N> load_pack(const float* p) {
  Pack<N> pack;
  if constexpr (N == 4) {
    const float4 x = *reinterpret_cast<const float4*>(p);
    pack.v[0] = x.x, pack.v[1] = x.y, pack.v[2] = x.z, pack.v[3] = x.w;
  } else {
    pack.v[0] = *p;
  }
  return pack;
}

template <int N>
__device__ __forceinline__ void store_pack(float* p, const Pack<N>& pack) {
  if constexpr (N == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(pack.v[0], pack.v[1], pack.v[2], pack.v[3]);
  } else {
    *p = pack.v[0];
  }
}

// Calls body(first, std::integral_constant<int, N>) for every pack of N elements: N = 4 for the
// whole 4-element groups when `vectorized` (every array the body touches is 16-byte aligned),
// N = 1 for the rest.
template <class Body>
__device__ __forceinline__ void for_each_pack(std::size_t count, bool vectorized, Body body) {
  const std::size_t thread = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  const std::size_t groups = vectorized ? count / 4 : 0;
  for (std::size_t g = thread; g < groups; g += stride) body(4 * g, std::integral_constant<int, 4>{});
  for (std::size_t e = 4 * groups + thread; e < count; e += stride) body(e, std::integral_constant<int, 1>{});
}

}  // namespace egc::cuda
