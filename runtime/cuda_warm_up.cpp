// The CUDA backend's warm-ups: every kernel and GEMM case once at construction, and each GEMM
// shape of the step once before the memory baseline, so that what libraries set up at their
// first call happens before it rather than inside a measured step.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/bias_backward.h"
#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/cuda_check.h"
#include "kernels/layernorm.h"
#include "kernels/mse_loss.h"
#include "planner/gemm_shapes.h"
#include "planner/plan.h"
#include "planner/units.h"
#include "runtime/cuda_backend_class.h"

namespace egc::cuda_detail {

// Runs every kernel, both vector paths, and the three GEMM cases the executor uses once, on a
// small zeroed scratch allocation that is freed again before anyone reads a baseline. With
// eager loading the modules are already resident; this covers what libraries set up lazily at
// their first call (cuBLAS's per-handle state, CUB's device attributes).
void CudaBackend::warm_up() {
  constexpr std::size_t kRows = 9, kCols = 7, kCount = kRows * kCols;  // odd sizes: vector body and tail
  const std::size_t scratch_bytes =
      align_up(std::max({cuda::bias_backward_scratch_bytes(kRows, kCols), cuda::mse_loss_forward_scratch_bytes(kCount),
                         cuda::layernorm_scratch_bytes_for(kRows, kCols), cuda::cross_entropy_scratch_bytes(kRows)}),
               kArenaAlignment);
  const std::size_t tensor_bytes = align_up(kCount * sizeof(float), kArenaAlignment);
  constexpr int kTensors = 7;  // a, b, c, pre, bias, optimizer state, row indices (stay zero)
  const std::size_t total_bytes = kTensors * tensor_bytes + scratch_bytes;
  // Not through allocate(): the ledger counts what the backend's users asked for.
  void* raw = nullptr;
  EGC_CUDA_CHECK(cudaMalloc(&raw, total_bytes));
  auto* base = static_cast<std::byte*>(raw);
  warming_up_ = true;
  scratch_ = base + kTensors * tensor_bytes;
  scratch_bytes_ = scratch_bytes;
  try {
    EGC_CUDA_CHECK(cudaMemsetAsync(base, 0, total_bytes, stream()));
    float* t[kTensors];
    for (int i = 0; i < kTensors; ++i) t[i] = reinterpret_cast<float*>(base + i * tensor_bytes);
    for (const bool ta : {false, true})
      for (const bool tb : {false, true}) gemm(ta, tb, kRows, kCols, kCols, t[0], t[1], 0.0f, t[2]);
    const DropoutMask dropout = math::dropout_mask(0.5, 1, 1, 0, 0);
    for (const Activation activation : {Activation::identity, Activation::relu, Activation::gelu, Activation::tanh}) {
      for (const DropoutMask& mask : {DropoutMask{}, dropout}) {
        bias_activation_forward(t[2], t[3], t[4], kRows, kCols, activation, mask);
        bias_activation_forward(t[2] + 1, nullptr, t[4], kRows - 1, kCols, activation, mask);  // unaligned: scalar path
        activation_forward(t[3], t[2], kRows, kCols, activation, mask);
        activation_backward(t[2], t[3], kRows, kCols, activation, false, mask);
        activation_backward(t[2], t[3], kRows, kCols, activation, true, mask);
      }
    }
    bias_residual_forward(t[2], t[4], t[3], kRows, kCols);
    // Zeroed inputs: LayerNorm's variance is 0 (rstd = 1/sqrt(eps), finite); the targets (t[6],
    // zero bits) are class 0.
    layernorm_forward(t[2], t[3], t[5], t[4], t[1], kRows, kCols, true);
    layernorm_forward(t[2], t[3], nullptr, t[4], t[1], kRows, kCols, true);
    layernorm_backward(t[3], t[2], t[5], t[4], t[0], t[1], t[1] + kCols, kRows, kCols, false, t[6]);
    cross_entropy_loss(t[2], t[6], t[5], t[1], kRows, kCols, 1.0f);
    bias_gradient(t[2], t[4], kRows, kCols, true);
    cuda::bias_backward_cub(t[2], t[4], kRows, kCols, false, stream());
    mse_loss(t[2], t[3], t[5], t[1], kRows, kCols, 1.0f);
    sgd_update(t[0], t[1], t[5], kCount, SgdSettings{});
    sgd_update(t[0], t[1], nullptr, kCount, SgdSettings{0.01f, 0.0f});
    adam_update(t[0], t[1], t[5], t[3], kCount, AdamSettings{}, 1);
    gather_rows(t[0], reinterpret_cast<const std::uint32_t*>(t[6]), t[2], kRows, kCols);
    synchronize();
  } catch (...) {
    warming_up_ = false;
    scratch_ = nullptr;
    EGC_CUDA_CHECK_NOTHROW(cudaFree(raw));
    throw;
  }
  warming_up_ = false;
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  EGC_CUDA_CHECK(cudaFree(raw));
}

// Each distinct GEMM shape of the step once, with a workspace of the plan's size bound as the
// step will have it: cuBLAS picks (and, where it must, sets up) its kernel for each real shape
// here rather than inside the first measured step. Temporaries only, freed before returning.
void CudaBackend::warm_up(const Chain& chain) {
  const std::vector<GemmShape> shapes = step_gemm_shapes(chain);
  std::size_t a_floats = 1, b_floats = 1, c_floats = 1;
  for (const GemmShape& s : shapes) {
    a_floats = std::max(a_floats, s.m * s.k);
    b_floats = std::max(b_floats, s.k * s.n);
    c_floats = std::max(c_floats, s.m * s.n);
  }
  const std::size_t a_bytes = align_up(a_floats * sizeof(float), kArenaAlignment);
  const std::size_t b_bytes = align_up(b_floats * sizeof(float), kArenaAlignment);
  const std::size_t c_bytes = align_up(c_floats * sizeof(float), kArenaAlignment);
  const std::size_t workspace_size = workspace_bytes(chain);
  // Not through allocate(): the ledger counts what the backend's users asked for.
  void* raw = nullptr;
  EGC_CUDA_CHECK(cudaMalloc(&raw, workspace_size + a_bytes + b_bytes + c_bytes));
  auto* base = static_cast<std::byte*>(raw);
  auto* a = reinterpret_cast<float*>(base + workspace_size);
  auto* b = reinterpret_cast<float*>(base + workspace_size + a_bytes);
  auto* c = reinterpret_cast<float*>(base + workspace_size + a_bytes + b_bytes);
  try {
    EGC_CUDA_CHECK(cudaMemsetAsync(a, 0, a_bytes + b_bytes + c_bytes, stream()));
    bind_workspace(raw, workspace_size);
    for (const GemmShape& s : shapes) gemm(s.transpose_a, s.transpose_b, s.m, s.n, s.k, a, b, 0.0f, c);
    synchronize();
  } catch (...) {
    bind_workspace(nullptr, 0);
    EGC_CUDA_CHECK_NOTHROW(cudaFree(raw));
    throw;
  }
  bind_workspace(nullptr, 0);
  EGC_CUDA_CHECK(cudaFree(raw));
}

}  // namespace egc::cuda_detail
