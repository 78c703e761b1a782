// CpuBackend: the reference backend. Plain loops over host memory it allocates and counts, so
// that the bytes a step holds are measured exactly.
#pragma once

#include <memory>

#include "runtime/allocation_ledger.h"
#include "runtime/backend.h"

namespace egc {

class CpuBackend final : public Backend {
 public:
  DeviceKind device() const override { return DeviceKind::cpu; }
  std::string description() const override;
  std::size_t workspace_bytes(const Chain& chain) const override;
  void bind_workspace(void* workspace, std::size_t bytes) override;

  void* allocate(std::size_t bytes) override;
  void release(void* pointer) noexcept override;
  void copy_to_device(void* device_destination, const void* host_source, std::size_t bytes) override;
  void copy_to_host(void* host_destination, const void* device_source, std::size_t bytes) override;
  void synchronize() override {}
  void* allocate_host(std::size_t bytes) override;
  void release_host(void* pointer) noexcept override;
  std::size_t host_allocated_bytes() const override { return host_ledger_.current_bytes(); }
  std::size_t allocated_bytes() const override { return ledger_.current_bytes(); }
  std::size_t peak_allocated_bytes() const override { return ledger_.peak_bytes(); }
  void reset_peak_allocated_bytes() override { ledger_.reset_peak(); }
  std::optional<std::size_t> device_free_bytes() override { return std::nullopt; }

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

 private:
  AllocationLedger ledger_;
  AllocationLedger host_ledger_;  // the host arena's allocations, apart from the "device" memory
  float* transpose_scratch_ = nullptr;  // the workspace: one transposed weight matrix
  std::size_t transpose_scratch_floats_ = 0;
};

}  // namespace egc
