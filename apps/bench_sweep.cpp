// run_sweep: plan, train a few steps, time and measure, per row.
#include "apps/bench_sweep.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "planner/report.h"
#include "planner/units.h"
#include "runtime/dataset.h"
#include "runtime/session.h"

namespace egc {
namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Op by op, synchronised: where the time of a step goes, as medians over `steps` steps.
void profile_ops(Session& session, Backend& backend, std::size_t steps, SweepRow& row) {
  const Plan& plan = session.plan();
  std::array<double, kOpKindCount> kind_ms{};
  Clock::time_point op_start;
  Executor& executor = session.trainer().executor();
  executor.set_hook([&](std::size_t op, bool after) {
    backend.synchronize();
    if (!after) {
      session.meter().sample();
      op_start = Clock::now();
      return;
    }
    kind_ms[static_cast<std::size_t>(plan.ops[op].kind)] += milliseconds_since(op_start);
  });
  auto ms = [&](OpKind kind) { return kind_ms[static_cast<std::size_t>(kind)]; };
  std::vector<double> forward, recompute, backward, update;
  for (std::size_t step = 0; step < steps; ++step) {
    kind_ms.fill(0.0);
    session.trainer().train_step();
    forward.push_back(ms(OpKind::forward));
    // Op-level recomputation (derive ops) counts as recomputation.
    recompute.push_back(ms(OpKind::recompute) + ms(OpKind::derive));
    backward.push_back(ms(OpKind::backward) + ms(OpKind::loss) + ms(OpKind::recompute) + ms(OpKind::derive));
    update.push_back(ms(OpKind::update));
  }
  executor.set_hook({});
  row.forward_ms = median(forward);
  row.recompute_ms = median(recompute);
  row.backward_ms = median(backward);
  row.update_ms = median(update);
}

SweepRow measure_row(Backend& backend, const SweepConfig& config, const Plan& plan, const Dataset& data) {
  SweepRow row;
  row.plan = plan.name;
  row.depth = plan.model.hidden_widths.size();
  row.batch = plan.model.batch;
  row.planned_arena_bytes = plan.arena_bytes;
  row.planned_activation_peak_bytes = plan.activation_peak_bytes;
  row.recompute_fraction = static_cast<double>(plan.recompute_flops) / static_cast<double>(plan.forward_flops);
  row.predicted_step_ms = plan.predicted_step_ms;
  TrainSettings settings;
  settings.seed = config.seed;
  {
    Session session(plan, backend, data, settings);
    for (std::size_t step = 0; step < config.warmup; ++step) session.trainer().train_step();
    // A step reads its loss back: it has finished when train_step returns.
    row.step_ms = median(session.train(config.steps, 0).step_ms);
    row.samples_per_second = row.step_ms > 0 ? 1000.0 * static_cast<double>(row.batch) / row.step_ms : 0;
    profile_ops(session, backend, config.profile_steps, row);
    const MeasuredMemory measured = session.measured();
    row.measured_peak_bytes = measured.peak_bytes;
    row.measure_method = measured.method;
  }
  if (config.measure_activations) {
    settings.alloc = AllocMode::per_buffer;
    Session session(plan, backend, data, settings);
    row.measured_activation_peak_bytes = session.train(1, 1).memory.activation_peak_bytes;
  }
  return row;
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
      Dataset data = make_synthetic_for(model, std::max<std::size_t>(4 * batch, 4096), 0.1, config.seed);
      split_dataset(data, 0.0, config.seed);
      for (const std::string& plan_text : config.plans) {
        RunOptions options;
        options.profile = config.profile;
        options.objective = config.objective;
        const Plan plan = plan_run(model, data, backend, parse_plan(plan_text), options);
        rows.push_back(measure_row(backend, config, plan, data));
        if (on_row) on_row(rows.back());
      }
    }
  }
  return rows;
}

std::string format_sweep_table(const std::vector<SweepRow>& rows) {
  std::ostringstream out;
  char line[512];
  // The plan column as wide as the longest name ("every:2+derive"), at least 10.
  int plan_width = 10;
  for (const SweepRow& row : rows)
    plan_width = std::max(plan_width, static_cast<int>(std::min<std::size_t>(row.plan.size(), 64)));
  std::snprintf(line, sizeof line, "%-*s %5s %6s %11s %11s %11s %11s %8s %9s %9s %9s %9s %9s %12s\n", plan_width, "plan",
                "depth", "batch", "arena", "peak meas", "act plan", "act meas", "recomp", "fwd ms", "recomp ms",
                "bwd ms", "step ms", "pred ms", "samples/s");
  out << line;
  for (const SweepRow& row : rows) {
    const std::string recompute = format_percent(row.recompute_fraction, 1.0, 0);
    std::snprintf(line, sizeof line, "%-*s %5zu %6zu %11s %11s %11s %11s %8s %9.3f %9.3f %9.3f %9.3f %9.3f %12.0f\n",
                  plan_width, row.plan.c_str(), row.depth, row.batch, format_bytes(row.planned_arena_bytes).c_str(),
                  format_bytes(row.measured_peak_bytes).c_str(), format_bytes(row.planned_activation_peak_bytes).c_str(),
                  row.measured_activation_peak_bytes ? format_bytes(*row.measured_activation_peak_bytes).c_str() : "-",
                  recompute.c_str(), row.forward_ms, row.recompute_ms, row.backward_ms, row.step_ms, row.predicted_step_ms,
                  row.samples_per_second);
    out << line;
  }
  return out.str();
}

std::string sweep_csv(const std::vector<SweepRow>& rows) {
  std::ostringstream out;
  out << "plan,depth,batch,planned_arena_bytes,measured_peak_bytes,planned_activation_peak_bytes,"
         "measured_activation_peak_bytes,recompute_fraction,forward_ms,recompute_ms,backward_ms,update_ms,step_ms,"
         "samples_per_second,predicted_step_ms\n";
  for (const SweepRow& row : rows) {
    out << row.plan << ',' << row.depth << ',' << row.batch << ',' << row.planned_arena_bytes << ','
        << row.measured_peak_bytes << ',' << row.planned_activation_peak_bytes << ','
        << (row.measured_activation_peak_bytes ? std::to_string(*row.measured_activation_peak_bytes) : "") << ','
        << row.recompute_fraction << ',' << row.forward_ms << ',' << row.recompute_ms << ',' << row.backward_ms << ','
        << row.update_ms << ',' << row.step_ms << ',' << row.samples_per_second << ',' << row.predicted_step_ms << '\n';
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
                         {"predicted_step_ms", row.predicted_step_ms},
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
            {"profile_steps", config.profile_steps},
            {"model", model_to_json(config.model)}}},
          {"rows", json_rows}};
}

}  // namespace egc
