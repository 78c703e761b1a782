// gpu_step_bench: the checkpointing plans side by side on one memory-intensive MLP on the GPU.
// Per plan: planned vs measured memory (the arena; per-buffer, the transient peak) with the
// verdict, step time (CUDA events, median after warm-up) and samples/s, the split of the step
// over op categories (GEMM share); then the recompute overhead time(sqrtn)/time(none) beside its
// theoretical value, and the bias-gradient kernel against the cub::BlockReduce baseline. Summary
// table last. --device sim runs everything but the CUDA measurements on the simulated device.
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

#include "cli/cli.h"
#include "planner/errors.h"
#include "planner/units.h"
#include "runtime/allocation_granularity.h"
#include "runtime/atomic_file.h"
#include "runtime/backend_factory.h"
#include "runtime/dataset.h"
#include "runtime/memory_fit.h"
#include "runtime/memory_report.h"
#include "runtime/session.h"
#if EGC_HAVE_CUDA
#include "bench/cuda_measures.h"
#endif

namespace {

using egc::AllocMode;
using egc::Backend;
using nlohmann::json;

struct Flags {
  egc::ModelFlags model;
  egc::DeviceFlags device;
  std::string plans = "none,sqrtn";
  std::size_t warmup = 3;
  std::size_t steps = 20;
  std::size_t profile_steps = 3;
  std::size_t memory_steps = 3;
  std::string json_path;
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
  const egc::MemoryVerdict verdict = egc::memory_verdict(plan, m, g);
  json result = {{"alloc", egc::to_string(alloc)},
                 {"method", m.method},
                 {"samples", m.samples},
                 {"baseline_free_bytes", m.baseline_free_bytes.value_or(0)},
                 {"measured_peak_bytes", m.peak_bytes},
                 {"measured_transient_peak_bytes", m.transient_peak_bytes},
                 {"free_unchanged_after_steps", free_unchanged},
                 {"verdict", egc::verdict_to_json(verdict)}};
  if (m.arena_bytes) result["measured_arena_bytes"] = *m.arena_bytes;
  if (m.activation_peak_bytes) result["measured_activation_peak_bytes"] = *m.activation_peak_bytes;
  // Within the planned ranges, and in arena mode free memory as it was after the set-up.
  result["within_granularity"] = verdict.ok() && (alloc != AllocMode::arena || free_unchanged);
  return result;
}

// Step times on the host's clock (the simulated device): a step ends when its loss is read back.
json time_steps_on_host(Backend& backend, const egc::Plan& plan, const egc::Dataset& data, const Flags& flags) {
  egc::Session session(plan, backend, data, egc::TrainSettings{});
  for (std::size_t i = 0; i < flags.warmup; ++i) session.trainer().train_step();
  const std::vector<double> ms = session.train(flags.steps, 0).step_ms;
  const double step_ms = egc::median(ms);
  return {{"steps", flags.steps},
          {"warmup_steps", flags.warmup},
          {"clock", "steady_clock around each step"},
          {"step_ms", step_ms},
          {"step_ms_min", *std::min_element(ms.begin(), ms.end())},
          {"step_ms_max", *std::max_element(ms.begin(), ms.end())},
          {"wall_step_ms", step_ms},
          {"samples_per_second", static_cast<double>(plan.chain.batch) / (step_ms / 1000.0)}};
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
  out << fmt::format("{:<12} {:>10} {:>10} {:>4} {:>19} {:>10} {:>4} {:>9} {:>11} {:>6}\n", "plan", "arena MiB",
                     "measured", "ok", "transient MiB", "measured", "ok", "step ms", "samples/s", "GEMM%");
  for (const json& plan : report["plans"]) {
    const json& transient = plan["per_buffer"]["verdict"]["checks"][0];
    const std::size_t transient_low = transient["planned_low_bytes"], transient_high = transient["planned_high_bytes"];
    const json& profile = plan["profile"];
    out << fmt::format("{:<12} {:>10} {:>10} {:>4} {:>19} {:>10} {:>4} {:>9.2f} {:>11.0f} {:>6}\n",
                       plan["name"].get<std::string>(), mib(plan["planned_arena_bytes"]),
                       mib(plan["arena"]["measured_arena_bytes"]), plan["arena_within_granularity"].get<bool>() ? "yes" : "NO",
                       mib(transient_low) + "-" + mib(transient_high), mib(plan["per_buffer"]["measured_transient_peak_bytes"]),
                       plan["activation_peak_within_granularity"].get<bool>() ? "yes" : "NO",
                       plan["timing"]["step_ms"].get<double>(), plan["timing"]["samples_per_second"].get<double>(),
                       profile.is_null() ? "-" : fmt::format("{:.1f}%", 100.0 * profile["gemm_share"].get<double>()));
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
  out << "memory: " << (report["memory_ok"].get<bool>() ? "every measured value within its planned range (G = the "
                                                           "device's granularity), free memory unchanged across steps"
                                                         : "MISMATCH: see the plans' verdicts in the JSON report")
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
#if EGC_HAVE_CUDA
  if (backend.device() == egc::DeviceKind::cuda) {
    entry["timing"] = egc::bench::time_steps_with_events(backend, plan, data, flags.warmup, flags.steps);
    entry["profile"] = egc::bench::profile_steps(backend, plan, data, flags.profile_steps);
    return entry;
  }
#endif
  entry["timing"] = time_steps_on_host(backend, plan, data, flags);
  entry["profile"] = nullptr;  // CUDA events per op: the GPU only
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

// The GPU by default; --device sim for the simulated device. Never the CPU: it reports no free
// memory to measure.
std::unique_ptr<Backend> make_device(const CLI::App& app, const egc::DeviceFlags& flags) {
  const egc::DeviceChoiceAndOptions choice = egc::resolve_device(app, flags);
  if (choice.device != egc::DeviceChoice::cuda && choice.device != egc::DeviceChoice::sim)
    throw egc::UsageError("--device: '" + flags.device + "' is not accepted (cuda or sim is)");
  return egc::make_backend(choice.device, choice.options);
}

int bench_main(const CLI::App& app, const Flags& flags, const std::string& command) {
  const egc::ModelSpec spec = egc::resolve_model(flags.model);
  std::vector<egc::PlanSpec> plan_specs;
  for (const std::string& name : egc::split_commas(flags.plans)) plan_specs.push_back(egc::parse_plan(name, "--plans"));

  const std::unique_ptr<Backend> backend = make_device(app, flags.device);
  std::cerr << "device: " << backend->description() << "\n";

  // Two batches of training rows, no evaluation rows.
  egc::Dataset data = egc::make_synthetic_for(spec, 2 * spec.batch, 0.1, 1);
  egc::split_dataset(data, 0.0, 1);
  std::vector<egc::Plan> plans;
  for (const egc::PlanSpec& plan_spec : plan_specs) plans.push_back(egc::plan_run(spec, data, *backend, plan_spec));
  std::vector<std::size_t> probe_sizes;
  for (const egc::Plan& plan : plans) {
    egc::check_plan_fits(plan, AllocMode::arena, *backend, plans);
    egc::check_plan_fits(plan, AllocMode::per_buffer, *backend, plans);
    probe_sizes.push_back(plan.arena_bytes);
  }
  const std::optional<egc::AllocationGranularity> granularity =
      egc::measure_allocation_granularity(*backend, probe_sizes);
  if (!granularity) throw egc::UsageError("--device: " + flags.device.device + " reports no free memory to measure");
  const std::size_t g = granularity->granularity;
  std::cerr << "allocation granularity: " << granularity->summary() << "\n";

  json report = {{"tool", "gpu_step_bench"},
                 {"date", today()},
                 {"device", backend->description()},
                 {"command", command},
                 {"granularity_bytes", g},
                 {"granularity", granularity->summary()},
                 {"config", config_json(spec, flags.device.tf32)},
                 {"plans", json::array()}};
  bool memory_ok = true;
  for (const egc::Plan& plan : plans) {
    report["plans"].push_back(measure_plan(*backend, plan, data, flags, g));
    memory_ok = memory_ok && report["plans"].back()["arena_within_granularity"].get<bool>() &&
                report["plans"].back()["activation_peak_within_granularity"].get<bool>();
  }
  report["memory_ok"] = memory_ok;
  if (plans.size() >= 2) report["recompute_overhead"] = recompute_overhead(report["plans"].front(), report["plans"].back());
  report["bias_gradient"] = json::array();
#if EGC_HAVE_CUDA
  const std::size_t width = spec.hidden_widths.empty() ? spec.out_features : spec.hidden_widths.front();
  if (backend->device() == egc::DeviceKind::cuda)
    report["bias_gradient"] = json::array({egc::bench::compare_bias_gradient(*backend, spec.batch, width),
                                           egc::bench::compare_bias_gradient(*backend, spec.batch, spec.out_features)});
#endif
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
  flags.device.device = "cuda";
  egc::add_device_flags(app, flags.device, "Device", "cuda, or sim (the CPU behind a simulated CUDA driver: the memory "
                                                     "proof and the driver code without a GPU)");
  app.add_option("--json", flags.json_path, "Write the full report as JSON to FILE")->type_name("FILE");
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  return egc::run_app(app, argc, argv, [&] { return bench_main(app, flags, command); });
}
