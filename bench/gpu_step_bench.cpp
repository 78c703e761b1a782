// gpu_step_bench: the checkpointing plans side by side on one memory-intensive MLP on the GPU.
// Per plan: planned vs measured memory (arena; per-buffer activation peak), step time (CUDA
// events, median after warm-up) and samples/s, the split of the step over op categories (GEMM
// share); then the recompute overhead time(sqrtn)/time(none) beside its theoretical value, and
// the bias-gradient kernel against the cub::BlockReduce baseline. Summary table last.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/timed_backend.h"
#include "cli/cli.h"
#include "kernels/bias_backward.h"
#include "kernels/cuda_check.h"
#include "planner/errors.h"
#include "planner/units.h"
#include "runtime/allocation_granularity.h"
#include "runtime/atomic_file.h"
#include "runtime/backend_factory.h"
#include "runtime/cuda_backend.h"
#include "runtime/dataset.h"
#include "runtime/memory_fit.h"
#include "runtime/memory_report.h"
#include "runtime/random.h"
#include "runtime/session.h"

namespace {

using egc::AllocMode;
using egc::Backend;
using nlohmann::json;

struct Flags {
  egc::ModelFlags model;
  std::string plans = "none,sqrtn";
  std::size_t warmup = 3;
  std::size_t steps = 20;
  std::size_t profile_steps = 3;
  std::size_t memory_steps = 3;
  bool tf32 = false;
  std::string json_path;
};

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

json measure_memory(Backend& backend, const egc::Plan& plan, const egc::Dataset& data, AllocMode alloc,
                    std::size_t steps, std::size_t g) {
  egc::TrainSettings settings;
  settings.alloc = alloc;
  egc::Session session(plan, backend, data, settings);
  const std::size_t free_after_setup = *backend.device_free_bytes();
  const egc::MeasuredSteps run = session.train(steps, std::min<std::size_t>(steps, 2));
  backend.synchronize();
  const egc::MeasuredMemory& m = run.memory;
  const bool free_unchanged = *backend.device_free_bytes() == free_after_setup;
  json result = {{"alloc", egc::to_string(alloc)},
                 {"method", m.method},
                 {"samples", m.samples},
                 {"baseline_free_bytes", m.baseline_free_bytes.value_or(0)},
                 {"measured_peak_bytes", m.peak_bytes},
                 {"free_unchanged_after_steps", free_unchanged}};
  if (m.arena_bytes) result["measured_arena_bytes"] = *m.arena_bytes;
  if (m.activation_peak_bytes) result["measured_activation_peak_bytes"] = *m.activation_peak_bytes;
  // Within the granularity of the plan, and in arena mode nothing allocated beyond the arena.
  bool ok = egc::memory_verdict(plan, m, g).ok();
  if (alloc == AllocMode::arena) ok = ok && m.arena_bytes && m.peak_bytes == *m.arena_bytes && free_unchanged;
  result["within_granularity"] = ok;
  return result;
}

json time_steps(Backend& backend, const egc::Plan& plan, const egc::Dataset& data, const Flags& flags) {
  auto* stream = static_cast<cudaStream_t>(egc::cuda_stream(backend));
  egc::Session session(plan, backend, data, egc::TrainSettings{});
  egc::Trainer& trainer = session.trainer();
  for (std::size_t i = 0; i < flags.warmup; ++i) trainer.train_step();
  EventTimer timer(stream);
  std::vector<double> gpu_ms, wall_ms;
  for (std::size_t i = 0; i < flags.steps; ++i) {
    const auto wall_start = std::chrono::steady_clock::now();
    timer.start();
    trainer.train_step();
    gpu_ms.push_back(timer.stop_ms());
    wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall_start).count());
  }
  const double step_ms = egc::median(gpu_ms);
  return {{"steps", flags.steps},
          {"warmup_steps", flags.warmup},
          {"step_ms", step_ms},
          {"step_ms_min", *std::min_element(gpu_ms.begin(), gpu_ms.end())},
          {"step_ms_max", *std::max_element(gpu_ms.begin(), gpu_ms.end())},
          {"wall_step_ms", egc::median(wall_ms)},
          {"samples_per_second", static_cast<double>(plan.chain.batch) / (step_ms / 1000.0)}};
}

json profile_steps(Backend& backend, const egc::Plan& plan, const egc::Dataset& data, const Flags& flags) {
  auto* stream = static_cast<cudaStream_t>(egc::cuda_stream(backend));
  egc::bench::TimedBackend timed(backend, stream, 4 * plan.ops.size() + 16);
  egc::Session session(plan, timed, data, egc::TrainSettings{});
  egc::Trainer& trainer = session.trainer();
  trainer.train_step();
  timed.collect();
  const std::array<double, egc::bench::kOpCategories> before = timed.milliseconds();
  EventTimer timer(stream);
  double total_ms = 0;
  for (std::size_t i = 0; i < flags.profile_steps; ++i) {
    timer.start();
    trainer.train_step();
    total_ms += timer.stop_ms();
    timed.collect();
  }
  json categories = json::object();
  double gemm_ms = 0;
  for (std::size_t c = 0; c < egc::bench::kOpCategories; ++c) {
    const double ms = (timed.milliseconds()[c] - before[c]) / static_cast<double>(flags.profile_steps);
    categories[egc::bench::to_string(static_cast<egc::bench::OpCategory>(c))] = ms;
    if (static_cast<egc::bench::OpCategory>(c) == egc::bench::OpCategory::gemm) gemm_ms = ms;
  }
  const double step_ms = total_ms / static_cast<double>(flags.profile_steps);
  return {{"steps", flags.profile_steps},
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

std::string today() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return text;
}

std::string mib(std::size_t bytes) { return fmt::format("{:.1f}", static_cast<double>(bytes) / (1 << 20)); }

std::string summary(const json& report) {
  std::ostringstream out;
  const std::size_t g = report["granularity_bytes"];
  out << "== gpu_step_bench summary: " << report["device"].get<std::string>() << ", " << report["date"].get<std::string>()
      << "\n"
      << "   model " << report["config"]["model_text"].get<std::string>() << "; granularity G = " << mib(g)
      << " MiB\n";
  out << fmt::format("{:<8} {:>12} {:>12} {:>9} {:>12} {:>12} {:>9} {:>9} {:>11} {:>6}\n", "plan", "arena MiB",
                     "measured", "diff", "act.peak", "measured", "diff", "step ms", "samples/s", "GEMM%");
  for (const json& plan : report["plans"]) {
    const long long arena = plan["planned_arena_bytes"], arena_measured = plan["arena"]["measured_arena_bytes"];
    const long long act = plan["planned_activation_peak_bytes"];
    const long long act_measured = plan["per_buffer"]["measured_activation_peak_bytes"];
    out << fmt::format("{:<8} {:>12} {:>12} {:>9} {:>12} {:>12} {:>9} {:>9.2f} {:>11.0f} {:>5.1f}%\n",
                       plan["name"].get<std::string>(), mib(arena), mib(arena_measured),
                       fmt::format("{:+d}", arena_measured - arena), mib(act), mib(act_measured),
                       fmt::format("{:+d}", act_measured - act), plan["timing"]["step_ms"].get<double>(),
                       plan["timing"]["samples_per_second"].get<double>(),
                       100.0 * plan["profile"]["gemm_share"].get<double>());
  }
  if (report.contains("recompute_overhead")) {
    const json& r = report["recompute_overhead"];
    out << fmt::format("activation peak {}/{}: {:.2f}x smaller; recompute overhead time({})/time({}) = {:.3f} measured, "
                       "{:.3f} theoretical ({})\n",
                       r["of"].get<std::string>(), r["versus"].get<std::string>(),
                       r["activation_peak_ratio"].get<double>(), r["of"].get<std::string>(),
                       r["versus"].get<std::string>(), r["measured"].get<double>(), r["theoretical"].get<double>(),
                       r["formula"].get<std::string>());
  }
  for (const json& b : report["bias_gradient"])
    out << fmt::format("bias gradient {}x{}: tiled {:.1f} us ({:.0f} GB/s) vs cub::BlockReduce {:.1f} us ({:.0f} GB/s): "
                       "{:.2f}x\n",
                       b["rows"].get<std::size_t>(), b["cols"].get<std::size_t>(), b["tiled_us"].get<double>(),
                       b["tiled_gb_per_s"].get<double>(), b["cub_block_reduce_us"].get<double>(),
                       b["cub_gb_per_s"].get<double>(), b["speedup"].get<double>());
  out << "memory: " << (report["memory_ok"].get<bool>() ? "every measured value within G of the plan, free memory "
                                                           "unchanged across steps"
                                                         : "MISMATCH: see the plans' entries in the JSON report")
      << "\n";
  return out.str();
}

json config_json(const egc::ModelSpec& spec, bool tf32) {
  const std::size_t width = spec.hidden_widths.empty() ? 0 : spec.hidden_widths.front();
  return {{"layers", spec.hidden_widths.size()},
          {"width", width},
          {"batch", spec.batch},
          {"in", spec.in_features},
          {"out", spec.out_features},
          {"activation", egc::to_string(spec.activation)},
          {"optimizer", egc::to_string(spec.optimizer)},
          {"tf32", tf32},
          {"model_text", fmt::format("{} hidden x {}, batch {}, in {}, out {}, {}, {}{}", spec.hidden_widths.size(), width,
                                     spec.batch, spec.in_features, spec.out_features, egc::to_string(spec.activation),
                                     egc::to_string(spec.optimizer), tf32 ? ", TF32" : "")}};
}

// Memory in both allocation modes, step time and the op-category profile of one plan.
json measure_plan(Backend& backend, const egc::Plan& plan, const egc::Dataset& data, const Flags& flags, std::size_t g) {
  std::cerr << "plan " << plan.name << ": memory (arena, per-buffer), timing, profile\n";
  json entry = {{"name", plan.name},
                {"planned_arena_bytes", plan.arena_bytes},
                {"planned_live_peak_bytes", plan.live_peak_bytes},
                {"planned_activation_peak_bytes", plan.activation_peak_bytes},
                {"forward_flops", plan.forward_flops},
                {"recompute_flops", plan.recompute_flops},
                {"backward_gemm_flops", plan.chain.backward_gemm_flops()}};
  entry["arena"] = measure_memory(backend, plan, data, AllocMode::arena, flags.memory_steps, g);
  entry["per_buffer"] = measure_memory(backend, plan, data, AllocMode::per_buffer, flags.memory_steps, g);
  entry["arena_within_granularity"] = entry["arena"]["within_granularity"];
  entry["activation_peak_within_granularity"] = entry["per_buffer"]["within_granularity"];
  entry["timing"] = time_steps(backend, plan, data, flags);
  entry["profile"] = profile_steps(backend, plan, data, flags);
  return entry;
}

// Recompute overhead of the last plan against the first (by default sqrtn against none). Step
// time taken as proportional to GEMM FLOPs: forward F, backward B (dW everywhere, dX but for
// the first layer), recomputation R: (F + R + B) / (F + B).
json recompute_overhead(const json& base, const json& other) {
  const double f = base["forward_flops"].get<double>(), b = base["backward_gemm_flops"].get<double>();
  const double r = other["recompute_flops"].get<double>() - base["recompute_flops"].get<double>();
  return {{"of", other["name"]},
          {"versus", base["name"]},
          {"measured", other["timing"]["step_ms"].get<double>() / base["timing"]["step_ms"].get<double>()},
          {"theoretical", (f + r + b) / (f + b)},
          {"formula", "(F + R + B) / (F + B), F forward, R recomputed, B backward GEMM FLOPs"},
          {"activation_peak_ratio", base["planned_activation_peak_bytes"].get<double>() /
                                        other["planned_activation_peak_bytes"].get<double>()}};
}

int bench_main(const Flags& flags, const std::string& command) {
  const egc::ModelSpec spec = egc::resolve_model(flags.model);
  std::vector<egc::PlanSpec> plan_specs;
  for (const std::string& name : egc::split_commas(flags.plans)) plan_specs.push_back(egc::parse_plan(name, "--plans"));

  egc::BackendOptions options;
  options.tf32 = flags.tf32;
  const std::unique_ptr<Backend> backend = egc::make_backend(egc::DeviceChoice::cuda, options);
  std::cerr << "device: " << backend->description() << "\n";
  const std::optional<egc::AllocationGranularity> granularity = egc::measure_allocation_granularity(*backend);
  const std::size_t g = granularity->granularity;
  std::cerr << "allocation granularity: " << granularity->summary() << "\n";

  egc::Dataset data = egc::make_synthetic(2 * spec.batch, spec.in_features, spec.out_features, 0.1, 1);
  std::vector<egc::Plan> plans;
  for (const egc::PlanSpec& plan_spec : plan_specs) plans.push_back(egc::plan_run(spec, data, *backend, plan_spec));
  for (const egc::Plan& plan : plans) {
    egc::check_plan_fits(plan, AllocMode::arena, *backend, plans);
    egc::check_plan_fits(plan, AllocMode::per_buffer, *backend, plans);
  }

  json report = {{"tool", "gpu_step_bench"},
                 {"date", today()},
                 {"device", backend->description()},
                 {"command", command},
                 {"granularity_bytes", g},
                 {"granularity", granularity->summary()},
                 {"config", config_json(spec, flags.tf32)},
                 {"plans", json::array()}};
  bool memory_ok = true;
  for (const egc::Plan& plan : plans) {
    report["plans"].push_back(measure_plan(*backend, plan, data, flags, g));
    memory_ok = memory_ok && report["plans"].back()["arena_within_granularity"].get<bool>() &&
                report["plans"].back()["activation_peak_within_granularity"].get<bool>();
  }
  report["memory_ok"] = memory_ok;
  if (plans.size() >= 2) report["recompute_overhead"] = recompute_overhead(report["plans"].front(), report["plans"].back());
  const std::size_t width = spec.hidden_widths.empty() ? spec.out_features : spec.hidden_widths.front();
  report["bias_gradient"] = json::array({compare_bias_gradient(*backend, spec.batch, width),
                                         compare_bias_gradient(*backend, spec.batch, spec.out_features)});
  if (!flags.json_path.empty())
    egc::write_file_atomically(flags.json_path, "--json", [&](std::ostream& out) { out << report.dump(2) << "\n"; });
  std::cout << summary(report);
  return memory_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gpu_step_bench: checkpointing plans side by side on the GPU (memory, time, GEMM share)",
               "gpu_step_bench"};
  app.option_defaults()->always_capture_default();
  Flags flags;
  flags.model.layers = "64";  // memory-intensive by default: sqrtn's activation peak is ~4x smaller
  flags.model.width = "2048";
  flags.model.batch = "4096";
  egc::add_model_flags(app, flags.model);
  app.add_option("--plans", flags.plans, "Plans to compare, comma-separated; the last is timed against the first");
  app.add_option("--warmup", flags.warmup, "Untimed steps before the timed ones");
  app.add_option("--steps", flags.steps, "Timed steps (the median is reported)");
  app.add_option("--profile-steps", flags.profile_steps, "Steps timed op by op (GEMM share)");
  app.add_option("--memory-steps", flags.memory_steps, "Steps of each memory measurement");
  app.add_flag("--tf32", flags.tf32, "Allow TF32 tensor-core GEMMs");
  app.add_option("--json", flags.json_path, "Write the full report as JSON to FILE")->type_name("FILE");
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  return egc::run_app(app, argc, argv, [&] { return bench_main(flags, command); });
}
