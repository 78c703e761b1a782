// CpuBackend: counted host allocations and the cpu_math templates in float32.
#include "runtime/cpu_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "planner/plan.h"
#include "runtime/activation_code.h"
#include "runtime/cpu_math.h"

namespace egc {
std::string CpuBackend::description() const { return "cpu (reference backend)"; }

std::size_t CpuBackend::workspace_bytes(const Chain& chain) const {
  std::size_t largest = 0;
  for (const Layer& layer : chain.layers)
    for (const LinearShape& shape : linear_shapes(layer)) largest = std::max(largest, shape.in * shape.out);
  return largest * sizeof(float);
}

void CpuBackend::bind_workspace(void* workspace, std::size_t bytes) {
  transpose_scratch_ = static_cast<float*>(workspace);
  transpose_scratch_floats_ = bytes / sizeof(float);
}

namespace {

void* allocate_counted(AllocationLedger& ledger, std::size_t bytes) {
  // aligned_alloc wants a multiple of the alignment: the buffer's footprint.
  void* pointer = std::aligned_alloc(kArenaAlignment, std::max(footprint_of(bytes), kArenaAlignment));
  if (!pointer) throw std::runtime_error("host allocation of " + std::to_string(bytes) + " bytes failed");
  ledger.record(pointer, bytes);
  return pointer;
}

void release_counted(AllocationLedger& ledger, void* pointer) noexcept {
  if (!pointer) return;
  ledger.forget(pointer);
  std::free(pointer);
}

}  // namespace

void* CpuBackend::allocate(std::size_t bytes) { return allocate_counted(ledger_, bytes); }
void CpuBackend::release(void* pointer) noexcept { release_counted(ledger_, pointer); }
void* CpuBackend::allocate_host(std::size_t bytes) { return allocate_counted(host_ledger_, bytes); }
void CpuBackend::release_host(void* pointer) noexcept { release_counted(host_ledger_, pointer); }

void CpuBackend::copy_to_device(void* device_destination, const void* host_source, std::size_t bytes) {
  std::memcpy(device_destination, host_source, bytes);
}

void CpuBackend::copy_to_host(void* host_destination, const void* device_source, std::size_t bytes) {
  std::memcpy(host_destination, device_source, bytes);
}

void CpuBackend::gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                      const float* a, const float* b, float beta, float* c) {
  if (transpose_b && k * n > transpose_scratch_floats_)
    throw std::logic_error("CpuBackend::gemm: workspace too small for a transposed operand");
  cpu::gemm(transpose_a, transpose_b, m, n, k, a, b, beta, c, transpose_scratch_);
}

void CpuBackend::bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows,
                                         std::size_t cols, Activation activation, const DropoutMask& dropout) {
  cpu::bias_activation_forward(out, pre, bias, rows, cols, activation_code(activation), dropout);
}

void CpuBackend::activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols,
                                    Activation activation, const DropoutMask& dropout) {
  cpu::activation_forward(pre, out, rows, cols, activation_code(activation), dropout);
}

void CpuBackend::activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols,
                                     Activation activation, bool saved_is_pre, const DropoutMask& dropout) {
  cpu::activation_backward(grad, saved, rows, cols, activation_code(activation), saved_is_pre, dropout);
}

void CpuBackend::bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                                       std::size_t cols) {
  cpu::bias_residual_forward(out, bias, residual, rows, cols);
}

void CpuBackend::layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                                   std::size_t rows, std::size_t cols, bool compute_stats) {
  cpu::layernorm_forward(x, out, stats, gamma, beta, rows, cols, compute_stats);
}

void CpuBackend::layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma,
                                    float* grad_x, float* grad_gamma, float* grad_beta, std::size_t rows,
                                    std::size_t cols, bool accumulate, float* /*scratch: the CPU sums in place*/) {
  cpu::layernorm_backward(g, x, stats, gamma, grad_x, grad_gamma, grad_beta, rows, cols, accumulate);
}

void CpuBackend::bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols,
                               bool accumulate) {
  cpu::bias_gradient(grad, bias_grad, rows, cols, accumulate);
}

void CpuBackend::mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows,
                          std::size_t cols, float scale) {
  cpu::mse_loss(pred, target, loss, grad, rows, cols, scale);
}

void CpuBackend::cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad,
                                    std::size_t rows, std::size_t classes, float scale) {
  for (std::size_t i = 0; i < rows; ++i)
    if (!(targets[i] >= 0.0f && targets[i] < static_cast<float>(classes)))
      throw std::logic_error("cross_entropy_loss: target " + std::to_string(targets[i]) + " outside [0, " +
                             std::to_string(classes) + ") reached the loss (the data loader checks them)");
  const auto correct = static_cast<std::uint32_t>(cpu::cross_entropy_loss(logits, targets, loss, grad, rows, classes, scale));
  std::memcpy(loss + 1, &correct, sizeof correct);
}

void CpuBackend::sgd_update(float* params, const float* grads, float* velocity, std::size_t count,
                            const SgdSettings& settings) {
  cpu::sgd_update(params, grads, velocity, count, settings.lr, settings.momentum);
}

void CpuBackend::adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                             const AdamSettings& settings, std::size_t step) {
  cpu::adam_update(params, grads, m, v, count, settings.lr, settings.beta1, settings.beta2, settings.eps, step);
}

void CpuBackend::gather_rows(const float* source, const std::uint32_t* indices, float* destination,
                             std::size_t rows, std::size_t cols) {
  cpu::gather_rows(source, indices, destination, rows, cols);
}

}  // namespace egc
