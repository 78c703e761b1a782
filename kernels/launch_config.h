// Launch geometry of every kernel as pure host functions (no CUDA header): grid-stride loops over
// a grid whose size depends only on the element count (never on the device), so every launch is
// reproducible, and CPU tests check each geometry at its limits (tests/test_cuda_seams.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace egc::cuda {

// dim3 without the CUDA header; to_dim3 converts where nvcc compiles.
struct Extent {
  unsigned int x = 1, y = 1, z = 1;
};
struct Launch {
  Extent grid;
  Extent block;
};

// What every CUDA device since compute capability 3.0 accepts (CUDA programming guide, "Technical
// Specifications per Compute Capability"); a launch beyond them fails with an invalid configuration.
constexpr unsigned int kMaxGridX = 0x7fffffffu;
constexpr unsigned int kMaxGridYZ = 65535;
constexpr unsigned int kMaxBlockXY = 1024;
constexpr unsigned int kMaxBlockZ = 64;
constexpr unsigned int kMaxBlockThreads = 1024;

inline bool within_device_limits(const Launch& launch) {
  const Extent& g = launch.grid;
  const Extent& b = launch.block;
  const bool grid_ok = g.x >= 1 && g.y >= 1 && g.z >= 1 && g.x <= kMaxGridX && g.y <= kMaxGridYZ && g.z <= kMaxGridYZ;
  const bool block_ok = b.x >= 1 && b.y >= 1 && b.z >= 1 && b.x <= kMaxBlockXY && b.y <= kMaxBlockXY &&
                        b.z <= kMaxBlockZ && std::size_t{b.x} * b.y * b.z <= kMaxBlockThreads;
  return grid_ok && block_ok;
}

constexpr unsigned int kThreadsPerBlock = 256;
// 2^16 blocks of 256 threads: 16 Mi threads, many times what an H100/H200 holds at once; larger
// counts are covered by the grid-stride loop.
constexpr std::size_t kMaxBlocks = std::size_t{1} << 16;

// ceil(items / per) without the overflow of (items + per - 1) for items near SIZE_MAX.
constexpr std::size_t ceil_div(std::size_t items, std::size_t per) { return items / per + (items % per != 0); }

inline unsigned int grid_blocks(std::size_t items, unsigned int threads = kThreadsPerBlock) {
  return static_cast<unsigned int>(std::clamp<std::size_t>(ceil_div(items, threads), 1, kMaxBlocks));
}

// Blocks for a for_each_pack loop (vector_access.h): one thread per pack of 4 when vectorized.
inline unsigned int pack_blocks(std::size_t count, bool vectorized) {
  return grid_blocks(vectorized ? ceil_div(count, 4) : count);
}

// The launches of the element-wise kernels: 1-D grids of kThreadsPerBlock threads.
inline Launch pack_launch(std::size_t count, bool vectorized) {
  return Launch{Extent{pack_blocks(count, vectorized)}, Extent{kThreadsPerBlock}};
}
inline Launch element_launch(std::size_t count) { return Launch{Extent{grid_blocks(count)}, Extent{kThreadsPerBlock}}; }

// float4 loads need 16-byte alignment; arena offsets are 256-aligned, but parameter tensors sit
// at any float offset of the packed parameter buffer.
inline bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

#if defined(__CUDACC__)
inline dim3 to_dim3(const Extent& extent) { return dim3(extent.x, extent.y, extent.z); }
#endif

}  // namespace egc::cuda
