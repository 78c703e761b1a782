// Launcher of the mini-batch gather: rows of the resident dataset picked by index.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace egc::cuda {

// destination[r, :] = source[indices[r], :] for r < rows; rows of `cols` floats.
void gather_rows(const float* source, const std::uint32_t* indices, float* destination, std::size_t rows,
                 std::size_t cols, cudaStream_t stream);

}  // namespace egc::cuda
