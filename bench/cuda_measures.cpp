// CUDA events, the op-category profile and the bias-gradient comparison of gpu_step_bench.
#include "bench/cuda_measures.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <vector>

#include "bench/timed_backend.h"
#include "kernels/bias_backward.h"
#include "kernels/cuda_check.h"
#include "runtime/cuda_backend.h"
#include "runtime/measured_steps.h"
#include "runtime/random.h"
#include "runtime/session.h"

namespace egc::bench {
namespace {

using egc::Backend;
using nlohmann::json;

// One CUDA event pair around a stretch of the stream.
class EventTimer {
 public:
  explicit EventTimer(cudaStream_t stream) : stream_(stream) {
    EGC_CUDA_CHECK(cudaEventCreate(&start_));
    EGC_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    EGC_CUDA_CHECK_NOTHROW(cudaEventDestroy(start_));
    EGC_CUDA_CHECK_NOTHROW(cudaEventDestroy(stop_));
  }
  void start() { EGC_CUDA_CHECK(cudaEventRecord(start_, stream_)); }
  double stop_ms() {
    EGC_CUDA_CHECK(cudaEventRecord(stop_, stream_));
    EGC_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    EGC_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }

 private:
  cudaStream_t stream_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace

json time_steps_with_events(Backend& backend, const egc::Plan& plan, const egc::Dataset& data, std::size_t warmup,
                            std::size_t steps) {
  auto* stream = static_cast<cudaStream_t>(egc::cuda_stream(backend));
  egc::Session session(plan, backend, data, egc::TrainSettings{});
  egc::Trainer& trainer = session.trainer();
  for (std::size_t i = 0; i < warmup; ++i) trainer.train_step();
  EventTimer timer(stream);
  std::vector<double> gpu_ms, wall_ms;
  for (std::size_t i = 0; i < steps; ++i) {
    const auto wall_start = std::chrono::steady_clock::now();
    timer.start();
    trainer.train_step();
    gpu_ms.push_back(timer.stop_ms());
    wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall_start).count());
  }
  const double step_ms = egc::median(gpu_ms);
  return {{"steps", steps},
          {"warmup_steps", warmup},
          {"clock", "CUDA events around each step"},
          {"step_ms", step_ms},
          {"step_ms_min", *std::min_element(gpu_ms.begin(), gpu_ms.end())},
          {"step_ms_max", *std::max_element(gpu_ms.begin(), gpu_ms.end())},
          {"wall_step_ms", egc::median(wall_ms)},
          {"samples_per_second", static_cast<double>(plan.chain.batch) / (step_ms / 1000.0)}};
}

json profile_steps(Backend& backend, const egc::Plan& plan, const egc::Dataset& data, std::size_t steps) {
  auto* stream = static_cast<cudaStream_t>(egc::cuda_stream(backend));
  // Backend calls per op: a residual block's backward makes 10 (a plain layer's at most 4).
  egc::bench::TimedBackend timed(backend, stream, 10 * plan.ops.size() + 16);
  egc::Session session(plan, timed, data, egc::TrainSettings{});
  egc::Trainer& trainer = session.trainer();
  trainer.train_step();
  timed.collect();
  const std::array<double, egc::bench::kOpCategories> before = timed.milliseconds();
  EventTimer timer(stream);
  double total_ms = 0;
  for (std::size_t i = 0; i < steps; ++i) {
    timer.start();
    trainer.train_step();
    total_ms += timer.stop_ms();
    timed.collect();
  }
  json categories = json::object();
  double gemm_ms = 0;
  for (std::size_t c = 0; c < egc::bench::kOpCategories; ++c) {
    const double ms = (timed.milliseconds()[c] - before[c]) / static_cast<double>(steps);
    categories[egc::bench::to_string(static_cast<egc::bench::OpCategory>(c))] = ms;
    if (static_cast<egc::bench::OpCategory>(c) == egc::bench::OpCategory::gemm) gemm_ms = ms;
  }
  const double step_ms = total_ms / static_cast<double>(steps);
  return {{"steps", steps},
          {"step_ms_with_events", step_ms},
          {"ms_per_step_by_category", categories},
          {"gemm_share", gemm_ms / step_ms}};
}

// The tiled two-stage column sum against one cub::BlockReduce block per column.
json compare_bias_gradient(Backend& backend, std::size_t rows, std::size_t cols) {
  auto* stream = static_cast<cudaStream_t>(egc::cuda_stream(backend));
  std::vector<float> grad(rows * cols);
  egc::Random random(1);
  for (float& value : grad) value = static_cast<float>(random.uniform(-1, 1));
  const std::size_t scratch_bytes = egc::cuda::bias_backward_scratch_bytes(rows, cols);
  void* d_grad = backend.allocate(grad.size() * sizeof(float));
  void* d_bias = backend.allocate(cols * sizeof(float));
  void* d_scratch = backend.allocate(scratch_bytes);
  backend.copy_to_device(d_grad, grad.data(), grad.size() * sizeof(float));
  EventTimer timer(stream);
  constexpr int kRepeats = 20;
  const auto time_it = [&](auto launch) {
    for (int i = 0; i < 3; ++i) launch();
    timer.start();
    for (int i = 0; i < kRepeats; ++i) launch();
    return timer.stop_ms() * 1000.0 / kRepeats;
  };
  const auto* g = static_cast<const float*>(d_grad);
  auto* b = static_cast<float*>(d_bias);
  const double own_us = time_it(
      [&] { egc::cuda::bias_backward(g, b, rows, cols, false, d_scratch, scratch_bytes, stream); });
  const double cub_us = time_it([&] { egc::cuda::bias_backward_cub(g, b, rows, cols, false, stream); });
  backend.release(d_scratch);
  backend.release(d_bias);
  backend.release(d_grad);
  const double bytes = static_cast<double>(rows * cols * sizeof(float));
  return {{"rows", rows},
          {"cols", cols},
          {"tiled_us", own_us},
          {"cub_block_reduce_us", cub_us},
          {"tiled_gb_per_s", bytes / own_us / 1e3},
          {"cub_gb_per_s", bytes / cub_us / 1e3},
          {"speedup", cub_us / own_us}};
}

}  // namespace egc::bench
