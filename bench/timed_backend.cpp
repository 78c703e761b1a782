// TimedBackend: event pairs from a pool created up front, summed per category in collect().
#include "bench/timed_backend.h"

#include <stdexcept>

#include "kernels/cuda_check.h"

namespace egc::bench {

TimedBackend::TimedBackend(Backend& inner, cudaStream_t stream, std::size_t max_ops)
    : ForwardingBackend(inner), stream_(stream), starts_(max_ops, nullptr), stops_(max_ops, nullptr), categories_(max_ops) {
  for (std::size_t i = 0; i < max_ops; ++i) {
    EGC_CUDA_CHECK(cudaEventCreate(&starts_[i]));
    EGC_CUDA_CHECK(cudaEventCreate(&stops_[i]));
  }
}

TimedBackend::~TimedBackend() {
  for (const std::vector<cudaEvent_t>* events : {&starts_, &stops_})
    for (cudaEvent_t event : *events)
      if (event) EGC_CUDA_CHECK_NOTHROW(cudaEventDestroy(event));
}

template <class Op>
void TimedBackend::timed(OpCategory category, Op op) {
  if (recorded_ == starts_.size()) throw std::logic_error("TimedBackend: more ops than events; call collect() more often");
  EGC_CUDA_CHECK(cudaEventRecord(starts_[recorded_], stream_));
  op();
  EGC_CUDA_CHECK(cudaEventRecord(stops_[recorded_], stream_));
  categories_[recorded_++] = category;
}

void TimedBackend::collect() {
  EGC_CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (std::size_t i = 0; i < recorded_; ++i) {
    float ms = 0;
    EGC_CUDA_CHECK(cudaEventElapsedTime(&ms, starts_[i], stops_[i]));
    milliseconds_[static_cast<std::size_t>(categories_[i])] += ms;
  }
  recorded_ = 0;
}

void TimedBackend::gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                        const float* a, const float* b, float beta, float* c) {
  timed(OpCategory::gemm, [&] { inner().gemm(transpose_a, transpose_b, m, n, k, a, b, beta, c); });
}

void TimedBackend::bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows,
                                           std::size_t cols, Activation activation, const DropoutMask& dropout) {
  timed(OpCategory::elementwise,
        [&] { inner().bias_activation_forward(out, pre, bias, rows, cols, activation, dropout); });
}

void TimedBackend::activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols,
                                       Activation activation, bool saved_is_pre, const DropoutMask& dropout) {
  timed(OpCategory::elementwise,
        [&] { inner().activation_backward(grad, saved, rows, cols, activation, saved_is_pre, dropout); });
}

void TimedBackend::activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols,
                                      Activation activation, const DropoutMask& dropout) {
  timed(OpCategory::elementwise, [&] { inner().activation_forward(pre, out, rows, cols, activation, dropout); });
}

void TimedBackend::bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                                         std::size_t cols) {
  timed(OpCategory::normalization, [&] { inner().bias_residual_forward(out, bias, residual, rows, cols); });
}

void TimedBackend::layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                                     std::size_t rows, std::size_t cols, bool compute_stats) {
  timed(OpCategory::normalization,
        [&] { inner().layernorm_forward(x, out, stats, gamma, beta, rows, cols, compute_stats); });
}

void TimedBackend::layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma,
                                      float* grad_x, float* grad_gamma, float* grad_beta, std::size_t rows,
                                      std::size_t cols, bool accumulate, float* scratch) {
  timed(OpCategory::normalization, [&] {
    inner().layernorm_backward(g, x, stats, gamma, grad_x, grad_gamma, grad_beta, rows, cols, accumulate, scratch);
  });
}

void TimedBackend::cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad,
                                      std::size_t rows, std::size_t classes, float scale) {
  timed(OpCategory::loss, [&] { inner().cross_entropy_loss(logits, targets, loss, grad, rows, classes, scale); });
}

void TimedBackend::bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols,
                                 bool accumulate) {
  timed(OpCategory::bias_gradient, [&] { inner().bias_gradient(grad, bias_grad, rows, cols, accumulate); });
}

void TimedBackend::mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows,
                            std::size_t cols, float scale) {
  timed(OpCategory::loss, [&] { inner().mse_loss(pred, target, loss, grad, rows, cols, scale); });
}

void TimedBackend::sgd_update(float* params, const float* grads, float* velocity, std::size_t count,
                              const SgdSettings& settings) {
  timed(OpCategory::update, [&] { inner().sgd_update(params, grads, velocity, count, settings); });
}

void TimedBackend::adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                               const AdamSettings& settings, std::size_t step) {
  timed(OpCategory::update, [&] { inner().adam_update(params, grads, m, v, count, settings, step); });
}

void TimedBackend::gather_rows(const float* source, const std::uint32_t* indices, float* destination,
                               std::size_t rows, std::size_t cols) {
  timed(OpCategory::gather, [&] { inner().gather_rows(source, indices, destination, rows, cols); });
}

}  // namespace egc::bench
