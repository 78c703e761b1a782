// egc_train: plans the memory of an MLP training step, prints the schedule, trains, and ends
// with planned versus measured memory.

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "apps/train_flags.h"
#include "apps/train_report.h"
#include "apps/training_loop.h"
#include "cli/cli.h"
#include "planner/report.h"
#include "planner/units.h"
#include "runtime/allocation_granularity.h"
#include "runtime/atomic_file.h"
#include "runtime/dataset.h"
#include "runtime/memory_fit.h"
#include "runtime/memory_report.h"
#include "runtime/safetensors.h"
#include "runtime/session.h"

namespace {

constexpr std::size_t kReportedPredictions = 2000;  // evaluation points kept in the report for plots

egc::Dataset load_data(const egc::TrainFlags& flags, const egc::TrainConfig& config) {
  const egc::ModelSpec& model = config.model;
  egc::Dataset data = flags.data.empty()
                          ? egc::make_synthetic_for(model, config.samples, config.noise, config.settings.seed)
                          : egc::load_csv_for(flags.data, model);
  egc::split_dataset(data, config.eval_split, config.settings.seed);
  return data;
}

std::size_t total_steps(const egc::TrainConfig& config, const egc::Dataset& data) {
  if (config.steps) return *config.steps;
  const double samples_per_step = static_cast<double>(config.model.batch * config.settings.accumulate);
  return std::max<std::size_t>(1, static_cast<std::size_t>(config.epochs.value_or(egc::kDefaultEpochs) *
                                                             static_cast<double>(data.train_rows.size()) /
                                                             samples_per_step));
}

int train_main(const CLI::App& app, const egc::TrainFlags& flags) {
  egc::setup_logging(flags.log_level);
  const egc::TrainConfig config = egc::resolve_train_flags(app, flags);
  const egc::Dataset data = load_data(flags, config);
  const std::unique_ptr<egc::Backend> backend = egc::make_backend(config.device.device, config.device.options);
  spdlog::info("device: {}", backend->description());

  const egc::Plan plan = egc::plan_run(config.model, data, *backend, config.plan, config.run);
  if (config.schedule != egc::ScheduleDetail::none) std::cout << egc::format_schedule(plan, config.schedule) << std::flush;
  std::optional<std::vector<float>> loaded_parameters;
  if (!flags.load.empty()) loaded_parameters = egc::load_safetensors(flags.load, plan.chain);
  const std::size_t steps = total_steps(config, data);
  std::optional<egc::TrainingState> resumed = egc::read_resume_state(config, plan, data, steps);
  if (resumed) loaded_parameters = resumed->params;
  nlohmann::json report = {{"egc_report_version", egc::kReportVersion},
                           {"config", egc::config_to_json(flags, config, backend->description(), data)}};
  report["config"].update(egc::checkpoint_config_to_json(config.checkpoint));
  auto write_report = [&] {
    if (flags.report.empty()) return;
    // Only now: a plan of a long chain at its smallest budget has millions of ops.
    report["plan"] = egc::plan_to_json(plan);
    egc::write_file_atomically(flags.report, "--report", [&](std::ostream& out) { out << report.dump(2) << "\n"; });
    spdlog::info("report written to {}", flags.report);
  };
  if (flags.dry_run) {
    write_report();
    return 0;
  }
  // Before anything is allocated: does the plan fit, and if not, which other plan would?
  egc::check_plan_fits(plan, config.settings.alloc, *backend);

  // On a device, how coarsely it hands out memory (probed at the arena's own size too): measured
  // and planned are compared within it.
  const std::optional<egc::AllocationGranularity> granularity =
      egc::measure_allocation_granularity(*backend, {egc::bytes_needed(plan, config.settings.alloc)});
  if (granularity) spdlog::info("device allocation granularity: {}", granularity->summary());
  egc::Session session(plan, *backend, data, config.settings, loaded_parameters ? &*loaded_parameters : nullptr);
  if (resumed) session.trainer().restore(*resumed);
  std::vector<std::uint32_t> batch_rows;
  if (!flags.export_batches.empty()) session.trainer().record_batches(&batch_rows);

  egc::TrainingOutcome outcome =
      egc::run_training(session, *backend, config, data, steps, resumed ? std::optional(resumed->step) : std::nullopt);
  egc::RunSummary& run = outcome.run;
  const bool completed = outcome.end.exit_code == 0;
  if (completed) run.evaluation = session.trainer().evaluate(!flags.report.empty());
  egc::print_comparison(plan, run, flags.data.empty() ? std::optional<double>(config.noise) : std::nullopt);
  const egc::MemoryVerdict verdict =
      egc::memory_verdict(plan, run.measured.memory, granularity ? granularity->granularity : 1);
  std::printf("%s", egc::format_verdict(verdict).c_str());

  report["measured"] = egc::measured_to_json(run.measured.memory);
  report["measured"]["granularity_bytes"] = granularity ? nlohmann::json(granularity->granularity) : nlohmann::json(nullptr);
  report["measured"]["verdict"] = egc::verdict_to_json(verdict);
  report["training"] = egc::training_to_json(run, data.train_rows.size(), plan.predicted_step_ms);
  report["training"].update(egc::outcome_to_json(outcome, config.checkpoint.path));
  if (!completed) {  // what the run did is reported; nothing else is written
    write_report();
    if (outcome.end.exit_code == 1) throw std::runtime_error(outcome.end.message);
    return outcome.end.exit_code;
  }
  if (run.evaluation && !run.evaluation->predictions.empty())
    report["evaluation"] = egc::evaluation_to_json(*run.evaluation, data, kReportedPredictions);
  if (!flags.save.empty()) {
    egc::save_safetensors(flags.save, plan.chain, session.trainer().parameters());
    spdlog::info("parameters saved to {}", flags.save);
  }
  if (!flags.export_batches.empty()) {
    egc::export_batches(flags.export_batches, data, batch_rows, run.steps * config.settings.accumulate,
                        config.model.batch);
    spdlog::info("dataset and batch rows written to {}", flags.export_batches);
  }
  write_report();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"egc_train: train an MLP under a static memory plan (gradient checkpointing).\n"
               "Prints the planned memory schedule, trains on the synthetic task y = 2x + 3 + noise\n"
               "(or --data FILE.csv), and ends with planned versus measured peak memory.",
               "egc_train"};
  app.option_defaults()->always_capture_default();
  egc::TrainFlags flags;
  egc::add_train_flags(app, flags);
  return egc::run_app(app, argc, argv, [&] { return train_main(app, flags); });
}
