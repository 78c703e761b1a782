// TimedBackend: a Backend that forwards every call to another (CUDA) backend and brackets each
// op with CUDA events on its stream, so that a step's GPU time splits into GEMMs, element-wise
// kernels, bias gradients, loss, update and data movement. For benchmarks only: the events cost
// a little host time per op.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "planner/enum_names.h"
#include "runtime/forwarding_backend.h"

namespace egc::bench {

enum class OpCategory { gemm, elementwise, bias_gradient, loss, update, gather, normalization };
inline constexpr EnumName<OpCategory> kOpCategoryNames[] = {
    {OpCategory::gemm, "gemm"},
    {OpCategory::elementwise, "bias+activation, activation backward"},
    {OpCategory::bias_gradient, "bias gradient"},
    {OpCategory::loss, "loss"},
    {OpCategory::update, "optimizer update"},
    {OpCategory::gather, "batch gather"},
    {OpCategory::normalization, "layernorm, residual epilogue"}};
constexpr std::size_t kOpCategories = count_of(kOpCategoryNames);
static_assert(names_in_order(kOpCategoryNames) && kOpCategories == 1 + int(OpCategory::normalization));
constexpr const char* to_string(OpCategory category) { return name_of(kOpCategoryNames, category); }

class TimedBackend final : public ForwardingBackend {
 public:
  // Up to `max_ops` ops between two calls of collect().
  TimedBackend(Backend& inner, cudaStream_t stream, std::size_t max_ops);
  ~TimedBackend() override;
  TimedBackend(const TimedBackend&) = delete;
  TimedBackend& operator=(const TimedBackend&) = delete;

  // Waits for the stream, adds the milliseconds of every op recorded since the last call to
  // the per-category totals, and starts over.
  void collect();
  const std::array<double, kOpCategories>& milliseconds() const { return milliseconds_; }

  void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k, const float* a,
            const float* b, float beta, float* c) override;
  void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                               Activation activation, const DropoutMask& dropout) override;
  void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, Activation activation,
                           bool saved_is_pre, const DropoutMask& dropout) override;
  void activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols, Activation activation,
                          const DropoutMask& dropout) override;
  void bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                             std::size_t cols) override;
  void layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                         std::size_t rows, std::size_t cols, bool compute_stats) override;
  void layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma, float* grad_x,
                          float* grad_gamma, float* grad_beta, std::size_t rows, std::size_t cols, bool accumulate,
                          float* scratch) override;
  void cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad, std::size_t rows,
                          std::size_t classes, float scale) override;
  void bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols,
                     bool accumulate) override;
  void mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows,
                std::size_t cols, float scale) override;
  void sgd_update(float* params, const float* grads, float* velocity, std::size_t count,
                  const SgdSettings& settings) override;
  void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                   const AdamSettings& settings, std::size_t step) override;
  void gather_rows(const float* source, const std::uint32_t* indices, float* destination, std::size_t rows,
                   std::size_t cols) override;

 private:
  // Records the start event, runs the op, records the stop event.
  template <class Op>
  void timed(OpCategory category, Op op);

  cudaStream_t stream_;
  std::vector<cudaEvent_t> starts_, stops_;
  std::vector<OpCategory> categories_;
  std::size_t recorded_ = 0;
  std::array<double, kOpCategories> milliseconds_{};
};

}  // namespace egc::bench
