// Cross-entropy kernels: the per-row and per-logit work is row_bodies.h's (which CPU tests run
// over the same grids); the sums are CUB's.
#include "kernels/cross_entropy.h"

#include <cstdint>
#include <stdexcept>
#include <string>

#include <cub/device/device_reduce.cuh>

#include "kernels/cuda_check.h"
#include "kernels/launch_config.h"
#include "kernels/row_bodies.h"
#include "kernels/vector_access.h"

namespace egc::cuda {
namespace {

__global__ void cross_entropy_rows_kernel(const float* __restrict__ logits, const float* __restrict__ targets,
                                          float* __restrict__ lse, double* __restrict__ loss,
                                          std::uint32_t* __restrict__ correct, std::size_t rows, std::size_t classes) {
  for_each_index(rows, CrossEntropyRows{logits, targets, lse, loss, correct, classes});
}

__global__ void cross_entropy_gradient_kernel(const float* __restrict__ logits, const float* __restrict__ targets,
                                              const float* __restrict__ lse, float* __restrict__ grad,
                                              std::size_t count, std::size_t classes, float scale, float rows) {
  for_each_index(count, CrossEntropyGradient{logits, targets, lse, grad, classes, scale, rows});
}

__global__ void cross_entropy_finish_kernel(const double* loss_sum, const std::uint32_t* correct, std::size_t rows,
                                            float* loss) {
  finish_cross_entropy(*loss_sum, *correct, rows, loss);
}

// CUB's storage for the larger of the two sums.
std::size_t cub_storage_bytes(std::size_t rows) {
  std::size_t doubles = 0, counts = 0;
  const int n = static_cast<int>(rows);
  EGC_CUDA_CHECK(cub::DeviceReduce::Sum(nullptr, doubles, static_cast<const double*>(nullptr),
                                        static_cast<double*>(nullptr), n));
  EGC_CUDA_CHECK(cub::DeviceReduce::Sum(nullptr, counts, static_cast<const std::uint32_t*>(nullptr),
                                        static_cast<std::uint32_t*>(nullptr), n));
  return doubles > counts ? doubles : counts;
}

}  // namespace

std::size_t cross_entropy_scratch_bytes(std::size_t rows) { return cross_entropy_scratch(rows).end + cub_storage_bytes(rows); }

void cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad, std::size_t rows,
                        std::size_t classes, float scale, void* scratch, std::size_t scratch_bytes,
                        cudaStream_t stream) {
  if (rows == 0) throw std::logic_error("cross_entropy_loss: no rows");
  if (rows > 0x7fffffffu) throw std::logic_error("cross_entropy_loss: more rows than CUB's int count");
  const std::size_t needed = cross_entropy_scratch_bytes(rows);
  if (needed > scratch_bytes)
    throw std::logic_error("cross_entropy_loss: " + std::to_string(needed) + " bytes of scratch needed, " +
                           std::to_string(scratch_bytes) + " given (workspace planned for another chain?)");
  const CrossEntropyScratch layout = cross_entropy_scratch(rows);
  auto* base = static_cast<char*>(scratch);
  auto* lse = reinterpret_cast<float*>(base + layout.lse);
  auto* row_loss = reinterpret_cast<double*>(base + layout.loss);
  auto* row_correct = reinterpret_cast<std::uint32_t*>(base + layout.correct);
  auto* loss_sum = reinterpret_cast<double*>(base + layout.sums);
  auto* correct_sum = reinterpret_cast<std::uint32_t*>(base + layout.sums + sizeof(double));
  void* storage = base + layout.end;
  std::size_t storage_bytes = needed - layout.end;

  const Launch row_launch = element_launch(rows);
  cross_entropy_rows_kernel<<<to_dim3(row_launch.grid), to_dim3(row_launch.block), 0, stream>>>(
      logits, targets, lse, row_loss, row_correct, rows, classes);
  EGC_CUDA_CHECK_LAUNCH(cross_entropy_rows_kernel);
  const std::size_t count = rows * classes;
  const Launch launch = element_launch(count);
  cross_entropy_gradient_kernel<<<to_dim3(launch.grid), to_dim3(launch.block), 0, stream>>>(
      logits, targets, lse, grad, count, classes, scale, static_cast<float>(rows));
  EGC_CUDA_CHECK_LAUNCH(cross_entropy_gradient_kernel);
  const int n = static_cast<int>(rows);
  EGC_CUDA_CHECK(cub::DeviceReduce::Sum(storage, storage_bytes, row_loss, loss_sum, n, stream));
  storage_bytes = needed - layout.end;
  EGC_CUDA_CHECK(cub::DeviceReduce::Sum(storage, storage_bytes, row_correct, correct_sum, n, stream));
  cross_entropy_finish_kernel<<<1, 1, 0, stream>>>(loss_sum, correct_sum, rows, loss);
  EGC_CUDA_CHECK_LAUNCH(cross_entropy_finish_kernel);
}

}  // namespace egc::cuda
