// run_sweep: plan, train a few steps, time and measure, per row.
#include "apps/bench_sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "planner/make_plan.h"
#include "planner/units.h"
#include "runtime/dataset.h"
#include "runtime/measured_steps.h"
#include "runtime/memory_meter.h"
#include "runtime/trainer.h"

namespace egc {
namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

std::vector<SweepRow> run_sweep(Backend& backend, const SweepConfig& config,
                                const std::function<void(const SweepRow&)>& on_row) {
  std::vector<SweepRow> rows;
  for (std::size_t depth : config.depths) {
    for (std::size_t batch : config.batches) {
      ModelSpec model = config.model;
      model.hidden_widths.assign(depth, config.width);
      model.batch = batch;
      // A small resident dataset: enough distinct rows for shuffled batches.
      Dataset data = make_synthetic(std::max<std::size_t>(4 * batch, 4096), model.in_features, model.out_features, 0.1,
                                    config.seed);
      split_dataset(data, 0.0, config.seed);
      StepContext context;
      context.dataset_rows = data.rows();
      context.workspace_bytes = backend.workspace_bytes(build_chain(model));
      for (const std::string& plan_text : config.plans) {
        const Plan plan = make_plan(model, context, parse_plan(plan_text));
        SweepRow row;
        row.plan = plan_text;
        row.depth = depth;
        row.batch = batch;
        row.planned_arena_bytes = plan.arena_bytes;
        row.planned_activation_peak_bytes = plan.activation_peak_bytes;
        row.recompute_fraction = static_cast<double>(plan.recompute_flops) / static_cast<double>(plan.forward_flops);
        TrainSettings settings;
        settings.seed = config.seed;
        {
          MemoryMeter meter(backend);
          Trainer trainer(plan, backend, data, settings);
          meter.setup_done();
          trainer.initialize_parameters();
          for (std::size_t step = 0; step < config.warmup; ++step) trainer.train_step();
          // A step reads its loss back: it has finished when train_step returns.
          row.step_ms = median(train_and_measure(trainer, meter, config.steps, 0).step_ms);
          row.samples_per_second = row.step_ms > 0 ? 1000.0 * static_cast<double>(batch) / row.step_ms : 0;

          // Op by op, synchronised: where the time of a step goes.
          std::vector<double> forward, recompute, backward, update;
          double kind_ms[5] = {0, 0, 0, 0, 0};
          Clock::time_point op_start;
          trainer.executor().set_hook([&](std::size_t op, bool after) {
            backend.synchronize();
            if (!after) {
              meter.sample();
              op_start = Clock::now();
              return;
            }
            kind_ms[static_cast<int>(plan.ops[op].kind)] += milliseconds_since(op_start);
          });
          for (std::size_t step = 0; step < config.profile_steps; ++step) {
            std::fill(std::begin(kind_ms), std::end(kind_ms), 0.0);
            trainer.train_step();
            forward.push_back(kind_ms[static_cast<int>(OpKind::forward)]);
            recompute.push_back(kind_ms[static_cast<int>(OpKind::recompute)]);
            backward.push_back(kind_ms[static_cast<int>(OpKind::backward)] + kind_ms[static_cast<int>(OpKind::loss)] +
                               kind_ms[static_cast<int>(OpKind::recompute)]);
            update.push_back(kind_ms[static_cast<int>(OpKind::update)]);
          }
          trainer.executor().set_hook({});
          row.forward_ms = median(forward);
          row.recompute_ms = median(recompute);
          row.backward_ms = median(backward);
          row.update_ms = median(update);
          const MeasuredMemory measured = meter.result(trainer.memory());
          row.measured_peak_bytes = measured.peak_bytes;
          row.measure_method = measured.method;
        }
        if (config.measure_activations) {
          settings.alloc = AllocMode::per_buffer;
          MemoryMeter meter(backend);
          Trainer trainer(plan, backend, data, settings);
          meter.setup_done();
          trainer.initialize_parameters();
          row.measured_activation_peak_bytes = train_and_measure(trainer, meter, 1, 1).memory.activation_peak_bytes;
        }
        if (on_row) on_row(row);
        rows.push_back(row);
      }
    }
  }
  return rows;
}

std::string format_sweep_table(const std::vector<SweepRow>& rows) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %5s %6s %11s %11s %11s %11s %8s %9s %9s %9s %9s %12s\n", "plan", "depth",
                "batch", "arena", "peak meas", "act plan", "act meas", "recomp", "fwd ms", "recomp ms", "bwd ms",
                "step ms", "samples/s");
  out << line;
  for (const SweepRow& row : rows) {
    char recompute[16];
    std::snprintf(recompute, sizeof recompute, "%.0f%%", 100.0 * row.recompute_fraction);
    std::snprintf(line, sizeof line, "%-10s %5zu %6zu %11s %11s %11s %11s %8s %9.3f %9.3f %9.3f %9.3f %12.0f\n",
                  row.plan.c_str(), row.depth, row.batch, format_bytes(row.planned_arena_bytes).c_str(),
                  format_bytes(row.measured_peak_bytes).c_str(), format_bytes(row.planned_activation_peak_bytes).c_str(),
                  row.measured_activation_peak_bytes ? format_bytes(*row.measured_activation_peak_bytes).c_str() : "-",
                  recompute, row.forward_ms, row.recompute_ms, row.backward_ms, row.step_ms, row.samples_per_second);
    out << line;
  }
  return out.str();
}

std::string sweep_csv(const std::vector<SweepRow>& rows) {
  std::ostringstream out;
  out << "plan,depth,batch,planned_arena_bytes,measured_peak_bytes,planned_activation_peak_bytes,"
         "measured_activation_peak_bytes,recompute_fraction,forward_ms,recompute_ms,backward_ms,update_ms,step_ms,"
         "samples_per_second\n";
  for (const SweepRow& row : rows) {
    out << row.plan << ',' << row.depth << ',' << row.batch << ',' << row.planned_arena_bytes << ','
        << row.measured_peak_bytes << ',' << row.planned_activation_peak_bytes << ','
        << (row.measured_activation_peak_bytes ? std::to_string(*row.measured_activation_peak_bytes) : "") << ','
        << row.recompute_fraction << ',' << row.forward_ms << ',' << row.recompute_ms << ',' << row.backward_ms << ','
        << row.update_ms << ',' << row.step_ms << ',' << row.samples_per_second << '\n';
  }
  return out.str();
}

nlohmann::json sweep_json(const std::vector<SweepRow>& rows, const SweepConfig& config, const std::string& device) {
  nlohmann::json json_rows = nlohmann::json::array();
  for (const SweepRow& row : rows) {
    json_rows.push_back({{"plan", row.plan},
                         {"depth", row.depth},
                         {"batch", row.batch},
                         {"planned_arena_bytes", row.planned_arena_bytes},
                         {"measured_peak_bytes", row.measured_peak_bytes},
                         {"planned_activation_peak_bytes", row.planned_activation_peak_bytes},
                         {"measured_activation_peak_bytes", row.measured_activation_peak_bytes
                                                                ? nlohmann::json(*row.measured_activation_peak_bytes)
                                                                : nlohmann::json(nullptr)},
                         {"measure_method", row.measure_method},
                         {"recompute_fraction", row.recompute_fraction},
                         {"forward_ms", row.forward_ms},
                         {"recompute_ms", row.recompute_ms},
                         {"backward_ms", row.backward_ms},
                         {"update_ms", row.update_ms},
                         {"step_ms", row.step_ms},
                         {"samples_per_second", row.samples_per_second}});
  }
  return {{"egc_bench_version", 1},
          {"device", device},
          {"config",
           {{"width", config.width},
            {"activation", to_string(config.model.activation)},
            {"optimizer", to_string(config.model.optimizer)},
            {"in_features", config.model.in_features},
            {"out_features", config.model.out_features},
            {"plans", config.plans},
            {"batches", config.batches},
            {"depths", config.depths},
            {"steps", config.steps},
            {"warmup", config.warmup},
            {"profile_steps", config.profile_steps}}},
          {"rows", json_rows}};
}

}  // namespace egc
