// Launch geometry shared by the element-wise kernels: grid-stride loops over a grid whose size
// depends only on the element count (never on the device), so every launch is reproducible.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace egc::cuda {

constexpr unsigned int kThreadsPerBlock = 256;
// 2^16 blocks of 256 threads: 16 Mi threads, many times what an H100/H200 holds at once; larger
// counts are covered by the grid-stride loop.
constexpr std::size_t kMaxBlocks = std::size_t{1} << 16;

inline unsigned int grid_blocks(std::size_t items, unsigned int threads = kThreadsPerBlock) {
  const std::size_t blocks = (items + threads - 1) / threads;
  return static_cast<unsigned int>(std::clamp<std::size_t>(blocks, 1, kMaxBlocks));
}

// Blocks for a for_each_pack loop (vector_access.cuh): one thread per pack of 4 when vectorized.
inline unsigned int pack_blocks(std::size_t count, bool vectorized) {
  return grid_blocks(vectorized ? (count + 3) / 4 : count);
}

// float4 loads need 16-byte alignment; arena offsets are 256-aligned, but parameter tensors sit
// at any float offset of the packed parameter buffer.
inline bool aligned16(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0; }

}  // namespace egc::cuda
