// ForwardingBackend: a Backend that hands every call to another one. Wrappers derive from it and
// override only what they change: the simulated device its memory, the benchmark's TimedBackend
// the ops it times, a test its recorder.
#pragma once

#include "runtime/backend.h"

namespace egc {

class ForwardingBackend : public Backend {
 public:
  // `inner` must outlive this backend (it may be constructed after it: nothing is called here).
  explicit ForwardingBackend(Backend& inner) : inner_(inner) {}

  DeviceKind device() const override { return inner_.device(); }
  std::string description() const override { return inner_.description(); }
  std::size_t workspace_bytes(const Chain& chain) const override { return inner_.workspace_bytes(chain); }
  void bind_workspace(void* workspace, std::size_t bytes) override { inner_.bind_workspace(workspace, bytes); }
  void warm_up(const Chain& chain) override { inner_.warm_up(chain); }
  void* allocate(std::size_t bytes) override { return inner_.allocate(bytes); }
  void release(void* pointer) noexcept override { inner_.release(pointer); }
  void copy_to_device(void* destination, const void* source, std::size_t bytes) override {
    inner_.copy_to_device(destination, source, bytes);
  }
  void copy_to_host(void* destination, const void* source, std::size_t bytes) override {
    inner_.copy_to_host(destination, source, bytes);
  }
  void synchronize() override { inner_.synchronize(); }
  void copy_async(std::size_t ticket, void* destination, const void* source, std::size_t bytes,
                  CopyDirection direction) override {
    inner_.copy_async(ticket, destination, source, bytes, direction);
  }
  void wait_copy(std::size_t ticket) override { inner_.wait_copy(ticket); }
  void* allocate_host(std::size_t bytes) override { return inner_.allocate_host(bytes); }
  void release_host(void* pointer) noexcept override { inner_.release_host(pointer); }
  std::size_t host_allocated_bytes() const override { return inner_.host_allocated_bytes(); }
  std::size_t allocated_bytes() const override { return inner_.allocated_bytes(); }
  std::size_t peak_allocated_bytes() const override { return inner_.peak_allocated_bytes(); }
  void reset_peak_allocated_bytes() override { inner_.reset_peak_allocated_bytes(); }
  std::optional<std::size_t> device_free_bytes() override { return inner_.device_free_bytes(); }

  void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
            const float* b, float beta, float* c) override {
    inner_.gemm(transpose_a, transpose_b, m, n, k, a, b, beta, c);
  }
  void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                               Activation activation, const DropoutMask& dropout) override {
    inner_.bias_activation_forward(out, pre, bias, rows, cols, activation, dropout);
  }
  void activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols, Activation activation,
                          const DropoutMask& dropout) override {
    inner_.activation_forward(pre, out, rows, cols, activation, dropout);
  }
  void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, Activation activation,
                           bool saved_is_pre, const DropoutMask& dropout) override {
    inner_.activation_backward(grad, saved, rows, cols, activation, saved_is_pre, dropout);
  }
  void bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                             std::size_t cols) override {
    inner_.bias_residual_forward(out, bias, residual, rows, cols);
  }
  void layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                         std::size_t rows, std::size_t cols, bool compute_stats) override {
    inner_.layernorm_forward(x, out, stats, gamma, beta, rows, cols, compute_stats);
  }
  void layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma, float* grad_x,
                          float* grad_gamma, float* grad_beta, std::size_t rows, std::size_t cols, bool accumulate,
                          float* scratch) override {
    inner_.layernorm_backward(g, x, stats, gamma, grad_x, grad_gamma, grad_beta, rows, cols, accumulate, scratch);
  }
  void bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols,
                     bool accumulate) override {
    inner_.bias_gradient(grad, bias_grad, rows, cols, accumulate);
  }
  void mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows,
                std::size_t cols, float scale) override {
    inner_.mse_loss(pred, target, loss, grad, rows, cols, scale);
  }
  void cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad, std::size_t rows,
                          std::size_t classes, float scale) override {
    inner_.cross_entropy_loss(logits, targets, loss, grad, rows, classes, scale);
  }
  void sgd_update(float* params, const float* grads, float* velocity, std::size_t count,
                  const SgdSettings& settings) override {
    inner_.sgd_update(params, grads, velocity, count, settings);
  }
  void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                   const AdamSettings& settings, std::size_t step) override {
    inner_.adam_update(params, grads, m, v, count, settings, step);
  }
  void gather_rows(const float* source, const std::uint32_t* indices, float* destination, std::size_t rows,
                   std::size_t cols) override {
    inner_.gather_rows(source, indices, destination, rows, cols);
  }

 protected:
  Backend& inner() { return inner_; }

 private:
  Backend& inner_;
};

}  // namespace egc
