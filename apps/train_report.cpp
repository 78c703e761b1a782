// egc_train's printout and report sections.
#include "apps/train_report.h"

#include <algorithm>
#include <cstdio>

#include "planner/units.h"
#include "runtime/memory_fit.h"
#include "runtime/safetensors.h"

namespace egc {
namespace {

std::string difference_text(std::size_t measured, std::size_t planned) {
  const double difference = static_cast<double>(measured) - static_cast<double>(planned);
  const std::string magnitude = format_bytes(measured >= planned ? measured - planned : planned - measured);
  return (difference < 0 ? "-" : difference > 0 ? "+" : "") + magnitude + " (" +
         format_percent(difference, static_cast<double>(planned), 2, true) + ")";
}

void print_row(const std::string& what, const std::string& planned, const std::string& got, const std::string& diff) {
  std::printf("  %-18s %16s %16s   %s\n", what.c_str(), planned.c_str(), got.c_str(), diff.c_str());
}

}  // namespace

nlohmann::json config_to_json(const TrainFlags& flags, const TrainConfig& config, const std::string& device,
                              const Dataset& data) {
  nlohmann::json model = model_to_json(config.model);
  model["block"] = to_string(config.model.block);
  model["dropout"] = config.model.dropout;
  model["loss"] = to_string(config.model.loss);
  if (config.model.loss != LossKind::cross_entropy) model["classes"] = nullptr;
  return {{"model", model},
          {"plan", flags.plan},
          {"max_memory_bytes", config.run.max_memory ? nlohmann::json(*config.run.max_memory) : nlohmann::json(nullptr)},
          {"host_memory_bytes", config.run.host_memory ? nlohmann::json(*config.run.host_memory) : nlohmann::json(nullptr)},
          {"dry_run", flags.dry_run},
          {"device", device},
          {"alloc", to_string(config.settings.alloc)},
          {"data", data.source},
          {"dataset_rows", data.rows()},
          {"train_rows", data.train_rows.size()},
          {"eval_rows", data.eval_rows.size()},
          {"seed", config.settings.seed},
          {"lr", config.lr},
          {"momentum", config.momentum},
          {"accumulate", config.settings.accumulate},
          {"single_update", config.run.single_update},
          {"tf32", flags.device.tf32}};
}

double RunSummary::median_step_ms() const { return median(measured.step_ms); }

double RunSummary::samples_per_second() const {
  return seconds > 0 ? static_cast<double>(steps * samples_per_step) / seconds : 0.0;
}

void print_comparison(const Plan& plan, const RunSummary& run, std::optional<double> noise) {
  const MeasuredMemory& measured = run.measured.memory;
  std::printf("\nPlanned vs measured (%s, --alloc %s):\n", measured.method.c_str(), to_string(measured.alloc));
  print_row("", "planned", "measured", "difference");
  if (measured.arena_bytes)
    print_row("arena", format_bytes(plan.arena_bytes), format_bytes(*measured.arena_bytes),
              difference_text(*measured.arena_bytes, plan.arena_bytes));
  const std::size_t planned_peak = bytes_needed(plan, measured.alloc);
  print_row("peak", format_bytes(planned_peak), format_bytes(measured.peak_bytes),
            difference_text(measured.peak_bytes, planned_peak));
  if (measured.activation_peak_bytes)
    print_row("activation peak", format_bytes(plan.activation_peak_bytes), format_bytes(*measured.activation_peak_bytes),
              difference_text(*measured.activation_peak_bytes, plan.activation_peak_bytes));
  else
    print_row("activation peak", format_bytes(plan.activation_peak_bytes), "-",
              measured.alloc == AllocMode::arena ? "(one arena; see --alloc per-buffer)"
                                                 : "(a device shows the transient peak, below)");
  std::printf("  step time          %.3f ms (median), %.0f samples/s; predicted %.3f ms (%s, profile: %s)\n",
              run.median_step_ms(), run.samples_per_second(), plan.predicted_step_ms,
              format_percent(plan.predicted_step_ms - run.median_step_ms(), run.median_step_ms(), 1, true).c_str(),
              plan.profile_name.c_str());
  if (run.evaluation && run.evaluation->accuracy) {
    std::printf("  evaluation         accuracy %.2f%%, cross-entropy %.6g over %zu rows\n", 100.0 * *run.evaluation->accuracy,
                run.evaluation->loss, run.evaluation->rows);
  } else if (run.evaluation) {
    std::printf("  evaluation MSE     %.6g over %zu rows", run.evaluation->loss, run.evaluation->rows);
    if (noise) std::printf(" (noise variance %.6g)", *noise * *noise);
    std::printf("\n");
  }
}

nlohmann::json training_to_json(const RunSummary& run, std::size_t train_rows, double plan_predicted_ms) {
  const std::vector<float>& losses = run.measured.losses;
  const bool classes = run.evaluation && run.evaluation->accuracy;
  const bool mse = run.evaluation && !run.evaluation->accuracy;
  return {{"steps", run.steps},
          {"epochs", static_cast<double>(run.steps * run.samples_per_step) / static_cast<double>(train_rows)},
          {"loss", run.logged_losses},
          {"final_loss", run.steps > 0 && !losses.empty() ? nlohmann::json(losses.back()) : nlohmann::json(nullptr)},
          {"final_accuracy", !run.measured.accuracies.empty() ? nlohmann::json(run.measured.accuracies.back())
                                                              : nlohmann::json(nullptr)},
          {"eval_mse", mse ? nlohmann::json(run.evaluation->loss) : nlohmann::json(nullptr)},
          {"eval_cross_entropy", classes ? nlohmann::json(run.evaluation->loss) : nlohmann::json(nullptr)},
          {"eval_accuracy", classes ? nlohmann::json(*run.evaluation->accuracy) : nlohmann::json(nullptr)},
          {"seconds", run.seconds},
          {"step_ms", run.median_step_ms()},
          {"predicted_step_ms", plan_predicted_ms},
          {"step_times_ms", run.measured.step_ms},
          {"samples_per_second", run.samples_per_second()}};
}

nlohmann::json evaluation_to_json(const Evaluation& evaluation, const Dataset& data, std::size_t kept) {
  kept = std::min(kept, evaluation.rows);
  nlohmann::json inputs = nlohmann::json::array(), targets = nlohmann::json::array(),
                 predictions = nlohmann::json::array();
  auto row_of = [](const std::vector<float>& values, std::size_t row, std::size_t width) {
    return std::vector<float>(values.begin() + row * width, values.begin() + (row + 1) * width);
  };
  for (std::size_t i = 0; i < kept; ++i) {
    const std::size_t row = data.eval_rows[i];
    inputs.push_back(row_of(data.inputs, row, data.in));
    targets.push_back(row_of(data.targets, row, data.out));
    predictions.push_back(row_of(evaluation.predictions, i, evaluation.predictions.size() / evaluation.rows));
  }
  return {{"rows", evaluation.rows}, {"inputs", inputs}, {"targets", targets}, {"predictions", predictions}};
}

void export_batches(const std::string& path, const Dataset& data, const std::vector<std::uint32_t>& batch_rows,
                    std::size_t micro_batches, std::size_t batch) {
  const std::vector<std::int64_t> rows(batch_rows.begin(), batch_rows.end());
  const std::vector<std::int64_t> eval_rows(data.eval_rows.begin(), data.eval_rows.end());
  write_safetensors(path, "--export-batches",
                    {{"inputs", "F32", {data.rows(), data.in}, data.inputs.data(), data.inputs.size() * sizeof(float)},
                     {"targets", "F32", {data.rows(), data.out}, data.targets.data(), data.targets.size() * sizeof(float)},
                     {"eval_rows", "I64", {eval_rows.size()}, eval_rows.data(), eval_rows.size() * 8},
                     {"batch_rows", "I64", {micro_batches, batch}, rows.data(), rows.size() * 8}});
}

}  // namespace egc
