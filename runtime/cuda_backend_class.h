// The CUDA backend's class, shared by its two source files (cuda_backend.cpp: set-up, memory,
// copies and the kernels' launches; cuda_warm_up.cpp: the calls that make libraries set
// themselves up before the memory baseline). Private to runtime/: users see runtime/cuda_backend.h.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "kernels/cuda_check.h"
#include "runtime/allocation_ledger.h"
#include "runtime/backend.h"
#include "runtime/backend_factory.h"
#include "runtime/copy_events.h"

namespace egc::cuda_detail {

struct StreamDeleter {
  void operator()(cudaStream_t stream) const noexcept { EGC_CUDA_CHECK_NOTHROW(cudaStreamDestroy(stream)); }
};
struct EventCreator {
  cudaEvent_t operator()() const {
    cudaEvent_t event = nullptr;
    EGC_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    return event;
  }
};
struct EventDeleter {
  void operator()(cudaEvent_t event) const noexcept { EGC_CUDA_CHECK_NOTHROW(cudaEventDestroy(event)); }
};
struct CublasDeleter {
  void operator()(cublasHandle_t handle) const noexcept { EGC_CUDA_CHECK_NOTHROW(cublasDestroy(handle)); }
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& options);

  DeviceKind device() const override { return DeviceKind::cuda; }
  std::string description() const override { return description_; }
  std::size_t workspace_bytes(const Chain& chain) const override;
  void bind_workspace(void* workspace, std::size_t bytes) override;
  void warm_up(const Chain& chain) override;

  void* allocate(std::size_t bytes) override;
  void release(void* pointer) noexcept override;
  void copy_to_device(void* device_destination, const void* host_source, std::size_t bytes) override;
  void copy_to_host(void* host_destination, const void* device_source, std::size_t bytes) override;
  void synchronize() override {
    EGC_CUDA_CHECK(cudaStreamSynchronize(copy_stream_.get()));
    EGC_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  void copy_async(std::size_t ticket, void* destination, const void* source, std::size_t bytes,
                  CopyDirection direction) override;
  void wait_copy(std::size_t ticket) override;
  void* allocate_host(std::size_t bytes) override;
  void release_host(void* pointer) noexcept override;
  std::size_t host_allocated_bytes() const override { return host_ledger_.current_bytes(); }
  std::size_t allocated_bytes() const override { return ledger_.current_bytes(); }
  std::size_t peak_allocated_bytes() const override { return ledger_.peak_bytes(); }
  void reset_peak_allocated_bytes() override { ledger_.reset_peak(); }
  std::optional<std::size_t> device_free_bytes() override;

  void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
            const float* b, float beta, float* c) override;
  void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                               Activation activation, const DropoutMask& dropout) override;
  void activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols, Activation activation,
                          const DropoutMask& dropout) override;
  void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, Activation activation,
                           bool saved_is_pre, const DropoutMask& dropout) override;
  void bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                             std::size_t cols) override;
  void layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                         std::size_t rows, std::size_t cols, bool compute_stats) override;
  void layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma, float* grad_x,
                          float* grad_gamma, float* grad_beta, std::size_t rows, std::size_t cols, bool accumulate,
                          float* scratch) override;
  void bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols,
                     bool accumulate) override;
  void mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows,
                std::size_t cols, float scale) override;
  void cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad, std::size_t rows,
                          std::size_t classes, float scale) override;
  void sgd_update(float* params, const float* grads, float* velocity, std::size_t count,
                  const SgdSettings& settings) override;
  void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                   const AdamSettings& settings, std::size_t step) override;
  void gather_rows(const float* source, const std::uint32_t* indices, float* destination, std::size_t rows,
                   std::size_t cols) override;

  cudaStream_t stream() const { return stream_.get(); }

 private:
  void attach_stream_and_workspace();
  void require_workspace(const char* op) const;
  void warm_up();

  std::unique_ptr<std::remove_pointer_t<cudaStream_t>, StreamDeleter> stream_;
  std::unique_ptr<std::remove_pointer_t<cublasHandle_t>, CublasDeleter> cublas_;
  std::unique_ptr<std::remove_pointer_t<cudaStream_t>, StreamDeleter> copy_stream_;
  // Recorded on the compute stream before each copy, which the copy stream waits for.
  std::unique_ptr<std::remove_pointer_t<cudaEvent_t>, EventDeleter> compute_done_;
  TicketEvents<cudaEvent_t, EventCreator, EventDeleter> copy_done_{EventCreator{}, EventDeleter{}};
  std::string description_;
  std::size_t cublas_workspace_bytes_ = 0;
  void* cublas_workspace_ = nullptr;  // the first cublas_workspace_bytes_ of the plan's workspace
  void* scratch_ = nullptr;           // the rest: bias-gradient partials or the loss reduction
  std::size_t scratch_bytes_ = 0;
  bool warming_up_ = false;
  AllocationLedger ledger_;
  AllocationLedger host_ledger_;  // pinned host memory (cudaHostAlloc) for the host arena
};

}  // namespace egc::cuda_detail
