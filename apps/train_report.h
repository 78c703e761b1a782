// What egc_train prints and writes about a run: the planned-versus-measured block, the JSON
// report's sections (config, training, evaluation), and the --export-batches file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/train_flags.h"
#include "planner/plan.h"
#include "runtime/dataset.h"
#include "runtime/measured_steps.h"
#include "runtime/memory_meter.h"
#include "runtime/trainer.h"

namespace egc {

// The report's config section: the flags as resolved, the device and the data.
nlohmann::json config_to_json(const TrainFlags& flags, const TrainConfig& config, const std::string& device,
                              const Dataset& data);

// What a finished run measured, for printing and the report.
struct RunSummary {
  std::size_t steps = 0;
  std::size_t samples_per_step = 0;
  double seconds = 0;
  MeasuredSteps measured;
  nlohmann::json logged_losses = nlohmann::json::array();  // [{step, loss}] every --log-every steps
  std::optional<Evaluation> evaluation;
  double median_step_ms() const;
  double samples_per_second() const;
};

// "Planned vs measured" with step time and the evaluation MSE; `noise` is shown beside the MSE
// for the synthetic task.
void print_comparison(const Plan& plan, const RunSummary& run, std::optional<double> noise);

// `plan_predicted_ms`: the plan's predicted step time, reported beside the measured median.
nlohmann::json training_to_json(const RunSummary& run, std::size_t train_rows, double plan_predicted_ms);
// The first `kept` evaluation rows with their predictions, for plots.
nlohmann::json evaluation_to_json(const Evaluation& evaluation, const Dataset& data, std::size_t kept);

// The dataset and the rows of every training micro-batch, as safetensors (--export-batches).
void export_batches(const std::string& path, const Dataset& data, const std::vector<std::uint32_t>& batch_rows,
                    std::size_t micro_batches, std::size_t batch);

}  // namespace egc
