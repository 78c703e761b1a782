// egc_train: plans the memory of an MLP training step, prints the schedule, trains, and ends
// with planned versus measured memory.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "apps/cli.h"
#include "apps/progress.h"
#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/report.h"
#include "planner/units.h"
#include "runtime/allocation_granularity.h"
#include "runtime/atomic_file.h"
#include "runtime/backend_factory.h"
#include "runtime/dataset.h"
#include "runtime/measured_steps.h"
#include "runtime/memory_fit.h"
#include "runtime/memory_meter.h"
#include "runtime/safetensors.h"
#include "runtime/trainer.h"

namespace {

struct TrainFlags {
  egc::ModelFlags model;
  std::string plan = "sqrtn";
  std::string max_memory;
  std::string schedule = "summary";
  std::string report;
  bool dry_run = false;
  std::string device = "auto";
  std::string alloc = "arena";
  bool tf32 = false;
  bool single_update = false;
  std::string steps;
  std::string epochs;
  std::string lr;
  std::string momentum = "0.9";
  std::string beta1 = "0.9";
  std::string beta2 = "0.999";
  std::string eps = "1e-8";
  std::string accumulate = "1";
  std::string seed = "0";
  std::string noise = "0.1";
  std::string samples = "100000";
  std::string eval_split = "0.1";
  std::string data;
  std::string save;
  std::string load;
  std::string export_batches;
  std::string log_level = "info";
  std::string log_every;
  std::string measure_steps = "2";
};

constexpr std::size_t kDefaultEpochs = 2;
constexpr std::size_t kReportedPredictions = 2000;  // evaluation points kept in the report for plots

// The plans a fit failure may suggest: none, sqrtn, and every:K for K = 2, 4, 8, ... below n.
std::vector<std::string> listed_plan_names(std::size_t layers) {
  std::vector<std::string> names{"none", "sqrtn"};
  for (std::size_t k = 2; k < layers; k *= 2) names.push_back("every:" + std::to_string(k));
  return names;
}

std::string percent_text(double part, double whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.2f%%", whole == 0 ? 0.0 : 100.0 * part / whole);
  return text;
}

std::string difference_text(std::size_t measured, std::size_t planned) {
  const double difference = static_cast<double>(measured) - static_cast<double>(planned);
  const std::string magnitude = egc::format_bytes(measured >= planned ? measured - planned : planned - measured);
  return (difference < 0 ? "-" : difference > 0 ? "+" : "") + magnitude + " (" + percent_text(difference, planned) + ")";
}

void print_comparison(const egc::Plan& plan, const egc::MeasuredMemory& measured, double median_step_ms,
                      double samples_per_second, const std::optional<egc::Evaluation>& evaluation, double noise,
                      bool synthetic) {
  auto row = [](const std::string& what, const std::string& planned, const std::string& got, const std::string& diff) {
    std::printf("  %-18s %16s %16s   %s\n", what.c_str(), planned.c_str(), got.c_str(), diff.c_str());
  };
  std::printf("\nPlanned vs measured (%s, --alloc %s):\n", measured.method.c_str(), egc::to_string(measured.alloc));
  row("", "planned", "measured", "difference");
  if (measured.arena_bytes)
    row("arena", egc::format_bytes(plan.arena_bytes), egc::format_bytes(*measured.arena_bytes),
        difference_text(*measured.arena_bytes, plan.arena_bytes));
  const std::size_t planned_peak =
      measured.alloc == egc::AllocMode::arena ? plan.arena_bytes : plan.live_peak_bytes;
  row("peak", egc::format_bytes(planned_peak), egc::format_bytes(measured.peak_bytes),
      difference_text(measured.peak_bytes, planned_peak));
  if (measured.activation_peak_bytes)
    row("activation peak", egc::format_bytes(plan.activation_peak_bytes),
        egc::format_bytes(*measured.activation_peak_bytes),
        difference_text(*measured.activation_peak_bytes, plan.activation_peak_bytes));
  else
    row("activation peak", egc::format_bytes(plan.activation_peak_bytes), "-", "(one arena; see --alloc per-buffer)");
  std::printf("  step time          %.3f ms (median), %.0f samples/s\n", median_step_ms, samples_per_second);
  if (evaluation) {
    std::printf("  evaluation MSE     %.6g over %zu rows", evaluation->mse, evaluation->rows);
    if (synthetic) std::printf(" (noise variance %.6g)", noise * noise);
    std::printf("\n");
  }
}

nlohmann::json measured_to_json(const egc::MeasuredMemory& measured) {
  nlohmann::json json = {{"method", measured.method},
                         {"alloc", egc::to_string(measured.alloc)},
                         {"peak_bytes", measured.peak_bytes},
                         {"activation_peak_bytes", nullptr},
                         {"arena_bytes", nullptr},
                         {"samples", measured.samples}};
  if (measured.activation_peak_bytes) json["activation_peak_bytes"] = *measured.activation_peak_bytes;
  if (measured.arena_bytes) json["arena_bytes"] = *measured.arena_bytes;
  if (measured.baseline_free_bytes) json["baseline_free_bytes"] = *measured.baseline_free_bytes;
  nlohmann::json timeline = nlohmann::json::array();
  for (const egc::MemorySample& sample : measured.timeline)
    timeline.push_back({{"op", sample.op}, {"after", sample.after}, {"bytes", sample.bytes}});
  json["timeline"] = timeline;
  return json;
}

int train_main(const TrainFlags& flags) {
  egc::setup_logging(flags.log_level);

  // Every flag is checked before anything is loaded, planned or written.
  egc::ModelSpec model = egc::resolve_model(flags.model);
  const egc::PlanSpec plan_spec = egc::parse_plan(flags.plan);
  const egc::ScheduleDetail detail = egc::parse_schedule_detail(flags.schedule);
  const egc::DeviceChoice device = egc::parse_device(flags.device);
  const egc::AllocMode alloc = egc::parse_alloc(flags.alloc);
  egc::TrainSettings settings;
  settings.alloc = alloc;
  settings.accumulate = egc::parse_count(flags.accumulate, "--accumulate", 1, 1u << 20);
  settings.seed = egc::parse_count(flags.seed, "--seed", 0, ~std::uint64_t{0} >> 1);
  const double default_lr = model.optimizer == egc::Optimizer::sgd ? 0.01 : 0.001;
  const double lr = flags.lr.empty() ? default_lr : egc::parse_real(flags.lr, "--lr", 0.0, 1e6);
  const double momentum = egc::parse_real(flags.momentum, "--momentum", 0.0, 1.0);
  settings.optimizer.sgd = {static_cast<float>(lr), static_cast<float>(momentum)};
  settings.optimizer.adam = {static_cast<float>(lr), static_cast<float>(egc::parse_real(flags.beta1, "--beta1", 0.0, 0.999999)),
                             static_cast<float>(egc::parse_real(flags.beta2, "--beta2", 0.0, 0.999999999)),
                             static_cast<float>(egc::parse_real(flags.eps, "--eps", 0.0, 1.0))};
  model.sgd_momentum = model.optimizer == egc::Optimizer::sgd && momentum != 0.0;
  const double noise = egc::parse_real(flags.noise, "--noise", 0.0, 1e6);
  const std::size_t samples = egc::parse_count(flags.samples, "--samples", 1, 1ull << 32);
  const double eval_split = egc::parse_real(flags.eval_split, "--eval-split", 0.0, 0.999999);
  const std::size_t measure_steps = egc::parse_count(flags.measure_steps, "--measure-steps", 0, 1u << 20);
  std::optional<std::size_t> steps;
  if (!flags.steps.empty()) steps = egc::parse_count(flags.steps, "--steps", 0, ~std::size_t{0} >> 1);
  std::optional<double> epochs;
  if (!flags.epochs.empty()) epochs = egc::parse_real(flags.epochs, "--epochs", 1e-9, 1e9);
  std::optional<std::size_t> log_every_flag;
  if (!flags.log_every.empty()) log_every_flag = egc::parse_count(flags.log_every, "--log-every", 1, ~0u);
  std::optional<std::size_t> max_memory;
  if (!flags.max_memory.empty()) max_memory = egc::parse_size(flags.max_memory, "--max-memory");
  if (!flags.report.empty()) egc::check_writable(flags.report, "--report");
  if (!flags.save.empty()) egc::check_writable(flags.save, "--save");
  if (!flags.export_batches.empty()) egc::check_writable(flags.export_batches, "--export-batches");

  egc::Dataset data = flags.data.empty()
                          ? egc::make_synthetic(samples, model.in_features, model.out_features, noise, settings.seed)
                          : egc::load_csv(flags.data, model.in_features, model.out_features);
  egc::split_dataset(data, eval_split, settings.seed);

  egc::BackendOptions backend_options;
  backend_options.tf32 = flags.tf32;
  std::unique_ptr<egc::Backend> backend = egc::make_backend(device, backend_options);
  spdlog::info("device: {}", backend->description());

  egc::StepContext context;
  context.dataset_rows = data.rows();
  context.workspace_bytes = backend->workspace_bytes(egc::build_chain(model));
  context.single_update = flags.single_update || settings.accumulate > 1;
  // The arena's limit: --max-memory as given, else the device's free memory (with a margin,
  // planner/auto_plan.h); on the CPU there is none unless --max-memory says so.
  if (max_memory) {
    context.memory_limit_bytes = *max_memory;
    context.memory_limit_source = egc::MemoryLimitSource::user;
  } else if (const std::optional<std::size_t> free_bytes = backend->device_free_bytes()) {
    context.memory_limit_bytes = *free_bytes;
    context.memory_limit_source = egc::MemoryLimitSource::device;
  }
  const egc::Plan plan = egc::make_plan(model, context, plan_spec);
  if (detail != egc::ScheduleDetail::none) std::cout << egc::format_schedule(plan, detail) << std::flush;
  std::optional<std::vector<float>> loaded_parameters;
  if (!flags.load.empty()) loaded_parameters = egc::load_safetensors(flags.load, plan.chain);

  nlohmann::json report = {
      {"egc_report_version", egc::kReportVersion},
      {"config",
       {{"model", egc::model_to_json(model)},
        {"plan", flags.plan},
        {"max_memory_bytes", max_memory ? nlohmann::json(*max_memory) : nlohmann::json(nullptr)},
        {"dry_run", flags.dry_run},
        {"device", backend->description()},
        {"alloc", egc::to_string(alloc)},
        {"data", data.source},
        {"dataset_rows", data.rows()},
        {"train_rows", data.train_rows.size()},
        {"eval_rows", data.eval_rows.size()},
        {"seed", settings.seed},
        {"lr", lr},
        {"momentum", momentum},
        {"accumulate", settings.accumulate},
        {"single_update", context.single_update},
        {"tf32", flags.tf32}}},
      {"plan", egc::plan_to_json(plan)},
  };
  auto write_report = [&] {
    if (flags.report.empty()) return;
    egc::write_file_atomically(flags.report, "--report", [&](std::ostream& out) { out << report.dump(2) << "\n"; });
    spdlog::info("report written to {}", flags.report);
  };
  if (flags.dry_run) {
    write_report();
    return 0;
  }

  if (backend->device_free_bytes()) {
    // Before anything is allocated: does the plan fit, and if not, which listed plan would?
    std::vector<egc::Plan> listed;
    for (const std::string& name : listed_plan_names(plan.chain.size()))
      listed.push_back(egc::make_plan(model, context, egc::parse_plan(name)));
    try {  // the budget plan that fits the free memory, where any does
      listed.push_back(egc::make_plan(model, context, egc::parse_plan("auto")));
    } catch (const egc::UsageError&) {
    }
    egc::check_plan_fits(plan, alloc, *backend, listed);
  }

  const std::size_t samples_per_step = model.batch * settings.accumulate;
  const std::size_t total_steps =
      steps ? *steps
            : std::max<std::size_t>(1, static_cast<std::size_t>(epochs.value_or(kDefaultEpochs) *
                                                                    static_cast<double>(data.train_rows.size()) /
                                                                    static_cast<double>(samples_per_step)));

  // On a device, how coarsely it hands out memory: measured and planned are compared within it.
  const std::optional<egc::AllocationGranularity> granularity = egc::measure_allocation_granularity(*backend);
  if (granularity) spdlog::info("device allocation granularity: {}", granularity->summary());
  egc::MemoryMeter meter(*backend);
  egc::Trainer trainer(plan, *backend, data, settings);
  meter.setup_done();
  if (loaded_parameters)
    trainer.set_parameters(*loaded_parameters);
  else
    trainer.initialize_parameters();

  std::vector<std::uint32_t> batch_rows;
  if (!flags.export_batches.empty()) {
    batch_rows.reserve(total_steps * samples_per_step);
    trainer.record_batches(&batch_rows);
  }

  const std::size_t log_every = log_every_flag.value_or(std::max<std::size_t>(1, total_steps / 20));
  egc::Progress progress(total_steps, samples_per_step, log_every, ::isatty(::fileno(stderr)) != 0);
  nlohmann::json losses = nlohmann::json::array();
  const auto start = std::chrono::steady_clock::now();
  const egc::MeasuredSteps run =
      egc::train_and_measure(trainer, meter, total_steps, measure_steps, [&](std::size_t step, float loss) {
        if (step % log_every == 0 || step == total_steps) losses.push_back({{"step", step}, {"loss", loss}});
        progress.update(step, loss);
      });
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const egc::MeasuredMemory& measured = run.memory;
  const float loss = run.losses.empty() ? 0.0f : run.losses.back();

  const std::optional<egc::Evaluation> evaluation = trainer.evaluate(!flags.report.empty());
  const double median_ms = egc::median(run.step_ms);
  const double samples_per_second = seconds > 0 ? static_cast<double>(total_steps * samples_per_step) / seconds : 0.0;
  print_comparison(plan, measured, median_ms, samples_per_second, evaluation, noise, flags.data.empty());
  if (granularity)
    std::printf("  (device allocation granularity %s: differences below it are rounding)\n",
                egc::format_bytes(granularity->granularity).c_str());

  report["measured"] = measured_to_json(measured);
  report["measured"]["granularity_bytes"] = granularity ? nlohmann::json(granularity->granularity) : nlohmann::json(nullptr);
  report["training"] = {{"steps", total_steps},
                        {"epochs", static_cast<double>(total_steps * samples_per_step) /
                                       static_cast<double>(data.train_rows.size())},
                        {"loss", losses},
                        {"final_loss", total_steps > 0 ? nlohmann::json(loss) : nlohmann::json(nullptr)},
                        {"eval_mse", evaluation ? nlohmann::json(evaluation->mse) : nlohmann::json(nullptr)},
                        {"seconds", seconds},
                        {"step_ms", median_ms},
                        {"step_times_ms", run.step_ms},
                        {"samples_per_second", samples_per_second}};
  if (evaluation && !evaluation->predictions.empty()) {
    const std::size_t kept = std::min(kReportedPredictions, evaluation->rows);
    nlohmann::json inputs = nlohmann::json::array(), targets = nlohmann::json::array(),
                   predictions = nlohmann::json::array();
    for (std::size_t i = 0; i < kept; ++i) {
      const std::size_t row = data.eval_rows[i];
      inputs.push_back(std::vector<float>(data.inputs.begin() + row * data.in, data.inputs.begin() + (row + 1) * data.in));
      targets.push_back(
          std::vector<float>(data.targets.begin() + row * data.out, data.targets.begin() + (row + 1) * data.out));
      predictions.push_back(std::vector<float>(evaluation->predictions.begin() + i * data.out,
                                               evaluation->predictions.begin() + (i + 1) * data.out));
    }
    report["evaluation"] = {{"rows", evaluation->rows}, {"inputs", inputs}, {"targets", targets}, {"predictions", predictions}};
  }
  if (!flags.save.empty()) {
    egc::save_safetensors(flags.save, plan.chain, trainer.parameters());
    spdlog::info("parameters saved to {}", flags.save);
  }
  if (!flags.export_batches.empty()) {
    // What another framework needs to replay this run: the dataset and the rows of every batch.
    const std::vector<std::int64_t> rows(batch_rows.begin(), batch_rows.end());
    const std::vector<std::int64_t> eval_rows(data.eval_rows.begin(), data.eval_rows.end());
    egc::write_safetensors(
        flags.export_batches, "--export-batches",
        {{"inputs", "F32", {data.rows(), data.in}, data.inputs.data(), data.inputs.size() * sizeof(float)},
         {"targets", "F32", {data.rows(), data.out}, data.targets.data(), data.targets.size() * sizeof(float)},
         {"eval_rows", "I64", {eval_rows.size()}, eval_rows.data(), eval_rows.size() * 8},
         {"batch_rows", "I64", {total_steps * settings.accumulate, model.batch}, rows.data(), rows.size() * 8}});
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
  TrainFlags flags;
  egc::add_model_flags(app, flags.model);
  app.add_option("--plan", flags.plan,
                 "Checkpoint plan: none, sqrtn, every:K (K >= 1), budget:SIZE (least recomputation within an "
                 "activation budget), chen-greedy[:SIZE], auto (fastest plan whose arena fits the memory limit)")
      ->type_name("PLAN")
      ->group("Plan");
  app.add_option("--max-memory", flags.max_memory,
                 "Limit for the whole arena, e.g. 8GiB (default: the device's free memory less a margin): "
                 "--plan auto plans within it; other plans must fit it")
      ->type_name("SIZE")
      ->group("Plan");
  app.add_option("--schedule", flags.schedule, "Schedule printout: summary (one line per segment), full (one line per op), none")
      ->type_name("DETAIL")->group("Plan");
  app.add_flag("--dry-run", flags.dry_run, "Plan and print the schedule; do not train")->group("Plan");
  app.add_option("--report", flags.report, "Write the plan, measurements and training results as JSON to FILE")
      ->type_name("FILE")->group("Output");
  app.add_option("--save", flags.save, "Save the trained parameters (safetensors, PyTorch nn.Sequential names) to FILE")
      ->type_name("FILE")->group("Output");
  app.add_option("--load", flags.load, "Start from parameters in a safetensors FILE (as written by --save)")
      ->type_name("FILE")->group("Output");
  auto* steps = app.add_option("--steps", flags.steps, "Optimizer steps to train (0: none; default: --epochs)")
                    ->type_name("N")->group("Training");
  app.add_option("--epochs", flags.epochs, "Passes over the training rows (default 2 when --steps is not given)")
      ->type_name("E")->excludes(steps)->group("Training");
  app.add_option("--lr", flags.lr, "Learning rate (default 0.01 for sgd, 0.001 for adam)")->type_name("RATE")->group("Training");
  app.add_option("--momentum", flags.momentum, "SGD momentum (0: plain SGD, no velocity buffer)")->type_name("M")->group("Training");
  app.add_option("--beta1", flags.beta1, "Adam beta1")->type_name("B")->group("Training");
  app.add_option("--beta2", flags.beta2, "Adam beta2")->type_name("B")->group("Training");
  app.add_option("--eps", flags.eps, "Adam epsilon")->type_name("EPS")->group("Training");
  app.add_option("--accumulate", flags.accumulate, "Micro-batches of --batch samples per optimizer step (gradient accumulation)")
      ->type_name("K")->group("Training");
  app.add_flag("--single-update", flags.single_update,
               "One optimizer sweep over all parameters after the backward pass, holding every gradient until then "
               "(default with --accumulate K > 1); otherwise each layer is updated right after its backward")
      ->group("Training");
  app.add_option("--seed", flags.seed, "Seed of the data, the split, the shuffling and the initial parameters")
      ->type_name("N")->group("Training");
  app.add_option("--data", flags.data, "Train on a CSV FILE: the first --in columns are inputs, the next --out targets")
      ->type_name("FILE")->group("Data");
  app.add_option("--samples", flags.samples, "Samples of the synthetic task")->type_name("N")->group("Data");
  app.add_option("--noise", flags.noise, "Standard deviation of the synthetic task's Gaussian noise")->type_name("SIGMA")->group("Data");
  app.add_option("--eval-split", flags.eval_split, "Fraction of the rows held out for evaluation (0 allowed)")
      ->type_name("FRACTION")->group("Data");
  app.add_option("--device", flags.device, "auto (CUDA when a device is present), cpu, cuda")->type_name("DEVICE")->group("Device");
  app.add_option("--alloc", flags.alloc,
                 "arena: one allocation of the planned arena; per-buffer: each buffer allocated at its first op "
                 "and freed after its last (measures the activation peak)")
      ->type_name("MODE")->group("Device");
  app.add_flag("--tf32", flags.tf32, "CUDA: allow TF32 tensor-core GEMMs (default: exact float32)")->group("Device");
  app.add_option("--measure-steps", flags.measure_steps, "Steps whose every op is bracketed by a memory sample (then one sample per step)")
      ->type_name("N")->group("Device");
  app.add_option("--export-batches", flags.export_batches,
                 "Write the dataset and the rows of every training batch (safetensors: inputs, targets, "
                 "eval_rows, batch_rows) so another framework can replay the run")
      ->type_name("FILE")->group("Output");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, critical, off")->type_name("LEVEL")->group("Output");
  app.add_option("--log-every", flags.log_every, "Steps between log lines when stderr is not a terminal (default: 1/20 of the run)")
      ->type_name("N")->group("Output");
  return egc::run_app(app, argc, argv, [&] { return train_main(flags); });
}
