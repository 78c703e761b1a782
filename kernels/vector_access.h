// The grid-stride walks of the element-wise kernels: over [0, count) in packs of 4 floats (one
// 16-byte load or store each) while aligned, then single floats for the tail. One thread's walk
// is __host__ __device__; the device runs it per thread, CPU tests run whole grids of it here.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <type_traits>

#include "kernels/elementwise_math.h"
#include "kernels/launch_config.h"

namespace egc::cuda {

template <int N>
struct Pack {
  float v[N];
};

// On the device a pack of 4 is one float4 access, which faults unless the address is 16-byte
// aligned; the host emulation refuses such an access as well, so CPU tests catch it first.
inline void require_float4_alignment(const void* pointer) {
  if (!aligned16(pointer)) throw std::logic_error("float4 access at an address that is not 16-byte aligned");
}

template <int N>
EGC_HOST_DEVICE Pack<N> load_pack(const float* p) {
  static_assert(N == 1 || N == 4, "a pack is one float or one float4");
  Pack<N> pack;
  if constexpr (N == 4) {
#if defined(__CUDA_ARCH__)
    const float4 x = *reinterpret_cast<const float4*>(p);
    pack.v[0] = x.x, pack.v[1] = x.y, pack.v[2] = x.z, pack.v[3] = x.w;
#else
    require_float4_alignment(p);
    pack.v[0] = p[0], pack.v[1] = p[1], pack.v[2] = p[2], pack.v[3] = p[3];
#endif
  } else {
    pack.v[0] = *p;
  }
  return pack;
}

template <int N>
EGC_HOST_DEVICE void store_pack(float* p, const Pack<N>& pack) {
  static_assert(N == 1 || N == 4, "a pack is one float or one float4");
  if constexpr (N == 4) {
#if defined(__CUDA_ARCH__)
    *reinterpret_cast<float4*>(p) = make_float4(pack.v[0], pack.v[1], pack.v[2], pack.v[3]);
#else
    require_float4_alignment(p);
    p[0] = pack.v[0], p[1] = pack.v[1], p[2] = pack.v[2], p[3] = pack.v[3];
#endif
  } else {
    *p = pack.v[0];
  }
}

// One thread's share of a pack walk: body(first, std::integral_constant<int, N>) for its packs,
// N = 4 for the whole 4-element groups when `vectorized` (every array the body touches is
// 16-byte aligned), N = 1 for the rest. `thread` is the thread's index in the grid, `stride` the
// number of threads in the grid.
template <class Body>
EGC_HOST_DEVICE void walk_packs(std::size_t thread, std::size_t stride, std::size_t count, bool vectorized,
                                const Body& body) {
  const std::size_t groups = vectorized ? count / 4 : 0;
  for (std::size_t g = thread; g < groups; g += stride) body(4 * g, std::integral_constant<int, 4>{});
  for (std::size_t e = 4 * groups + thread; e < count; e += stride) body(e, std::integral_constant<int, 1>{});
}

// One thread's share of a plain grid-stride loop: body(i) for i = thread, thread + stride, ...
template <class Body>
EGC_HOST_DEVICE void walk_indices(std::size_t thread, std::size_t stride, std::size_t count, const Body& body) {
  for (std::size_t i = thread; i < count; i += stride) body(i);
}

#if defined(__CUDACC__)
__device__ __forceinline__ std::size_t grid_thread() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::size_t grid_stride() { return static_cast<std::size_t>(gridDim.x) * blockDim.x; }

template <class Body>
__device__ __forceinline__ void for_each_pack(std::size_t count, bool vectorized, const Body& body) {
  walk_packs(grid_thread(), grid_stride(), count, vectorized, body);
}

template <class Body>
__device__ __forceinline__ void for_each_index(std::size_t count, const Body& body) {
  walk_indices(grid_thread(), grid_stride(), count, body);
}
#endif

// The host emulation of a 1-D launch: visit(thread, stride) for every thread of the grid, block
// by block. The device runs the threads in any order; their walks never share an element, so
// the order does not change the result.
template <class Visit>
void for_each_grid_thread_host(const Launch& launch, const Visit& visit) {
  if (launch.grid.y != 1 || launch.grid.z != 1 || launch.block.y != 1 || launch.block.z != 1)
    throw std::logic_error("for_each_grid_thread_host: a grid-stride loop runs on a 1-D launch");
  const std::size_t threads = launch.block.x;
  const std::size_t stride = static_cast<std::size_t>(launch.grid.x) * threads;
  for (std::size_t block = 0; block < launch.grid.x; ++block)
    for (std::size_t t = 0; t < threads; ++t) visit(block * threads + t, stride);
}

template <class Body>
void for_each_pack_host(const Launch& launch, std::size_t count, bool vectorized, const Body& body) {
  for_each_grid_thread_host(launch, [&](std::size_t thread, std::size_t stride) {
    walk_packs(thread, stride, count, vectorized, body);
  });
}

template <class Body>
void for_each_index_host(const Launch& launch, std::size_t count, const Body& body) {
  for_each_grid_thread_host(launch, [&](std::size_t thread, std::size_t stride) {
    walk_indices(thread, stride, count, body);
  });
}

}  // namespace egc::cuda
