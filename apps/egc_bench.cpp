// egc_bench: compares plans across batch sizes and depths: planned and measured peak memory,
// forward / recompute / backward time, step time and throughput, as a table, CSV and JSON;
// with --curve, recomputation against activation budget instead (apps/curve_command.h); with
// --calibrate, a device profile for --profile (apps/calibrate_command.h).
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "apps/bench_sweep.h"
#include "apps/calibrate_command.h"
#include "apps/curve_command.h"
#include "apps/offload_curve.h"
#include "cli/cli.h"
#include "planner/errors.h"
#include "planner/schedule.h"
#include "planner/units.h"
#include "runtime/atomic_file.h"
#include "runtime/backend_factory.h"
#include "runtime/calibration.h"

namespace {

struct BenchFlags {
  std::string plans = "none,sqrtn,every:4";
  std::string batches = "32,128,512";
  std::string depths = "8,32";
  std::string width = "64";
  std::string in = "1";
  std::string out;  // default 1, or --classes
  std::string activation = "relu";
  std::string optimizer = "sgd";
  std::string block = "plain";
  std::string norm;
  std::string expand;
  std::string dropout = "0";
  std::string loss = "mse";
  std::string classes;
  std::string steps = "10";
  std::string warmup = "2";
  std::string profile_steps = "3";
  bool no_activation_measure = false;
  egc::DeviceFlags device;
  std::string seed = "0";
  std::string csv;
  std::string json;
  std::string log_level = "info";
  std::string profile;
  std::string host_memory;  // --curve: add the three-way plans with this much host memory
  std::string objective = "time";
};

// The model flags both modes share, with the depth, width and batch each mode gives.
egc::ModelFlags model_flags(const BenchFlags& flags, const std::string& layers, const std::string& width,
                            const std::string& widths, const std::string& batch) {
  egc::ModelFlags model;
  model.layers = layers;
  model.width = width;
  model.widths = widths;
  model.in = flags.in;
  model.out = flags.out;
  model.activation = flags.activation;
  model.batch = batch;
  model.optimizer = flags.optimizer;
  model.block = flags.block;
  model.norm = flags.norm;
  model.expand = flags.expand;
  model.dropout = flags.dropout;
  model.loss = flags.loss;
  model.classes = flags.classes;
  return model;
}

int bench_main(const CLI::App& app, const BenchFlags& flags) {
  egc::setup_logging(flags.log_level);
  egc::SweepConfig config;
  config.plans.clear();
  for (const std::string& plan : egc::split_commas(flags.plans)) config.plans.push_back(egc::parse_plan(plan, "--plans").text);
  config.batches = egc::parse_widths(flags.batches, "--batches");
  config.depths = egc::parse_widths(flags.depths, "--depths");
  config.width = egc::parse_positive(flags.width, "--width");
  // Depth and batch come from the lists; everything else as egc_train reads it.
  config.model = egc::resolve_model(model_flags(flags, "1", flags.width, "", "1"));
  config.steps = egc::parse_whole(flags.steps, "--steps", 1, 1u << 20);
  config.warmup = egc::parse_whole(flags.warmup, "--warmup", 0, 1u << 20);
  config.profile_steps = egc::parse_whole(flags.profile_steps, "--profile-steps", 1, 1u << 20);
  config.measure_activations = !flags.no_activation_measure;
  config.seed = egc::parse_whole(flags.seed, "--seed", 0, ~std::uint64_t{0} >> 1);
  if (!flags.profile.empty()) config.profile = egc::load_profile(flags.profile);
  config.objective = egc::parse_objective(flags.objective);
  const egc::DeviceChoiceAndOptions device = egc::resolve_device(app, flags.device);
  for (std::size_t depth : config.depths) {
    egc::ModelSpec model = config.model;
    model.hidden_widths.assign(depth, config.width);
    for (std::size_t batch : config.batches) {
      model.batch = batch;
      egc::validate(model);
    }
  }
  if (!flags.csv.empty()) egc::check_writable(flags.csv, "--csv");
  if (!flags.json.empty()) egc::check_writable(flags.json, "--json");

  std::unique_ptr<egc::Backend> backend = egc::make_backend(device.device, device.options);
  const std::size_t total = config.plans.size() * config.batches.size() * config.depths.size();
  spdlog::info("device: {}; {} rows ({} plans x {} batch sizes x {} depths), {} timed steps each", backend->description(),
               total, config.plans.size(), config.batches.size(), config.depths.size(), config.steps);
  std::size_t done = 0;
  const std::vector<egc::SweepRow> rows = egc::run_sweep(*backend, config, [&](const egc::SweepRow& row) {
    spdlog::info("[{}/{}] {} depth {} batch {}: {:.3f} ms/step", ++done, total, row.plan, row.depth, row.batch,
                 row.step_ms);
  });
  std::cout << "\n" << egc::format_sweep_table(rows);
  if (!flags.csv.empty())
    egc::write_file_atomically(flags.csv, "--csv", [&](std::ostream& out) { out << egc::sweep_csv(rows); });
  if (!flags.json.empty())
    egc::write_file_atomically(flags.json, "--json", [&](std::ostream& out) {
      out << egc::sweep_json(rows, config, backend->description()).dump(2) << "\n";
    });
  return 0;
}

}  // namespace

// The curve mode takes its model from the shared flags and its own; each mode refuses the
// other's flags rather than ignoring them.
int dispatch(const CLI::App& app, const BenchFlags& flags, const egc::CurveFlags& curve,
             const egc::CalibrateFlags& calibrate) {
  const char* sweep_only[] = {"--plans", "--batches", "--depths", "--steps", "--warmup", "--profile-steps",
                              "--no-activation-measure", "--device", "--tf32", "--sim-memory", "--sim-granularity",
                              "--seed"};
  if (!calibrate.calibrate)
    for (const char* flag : egc::kCalibrateOnlyFlags)
      if (app.count(flag) > 0) throw egc::UsageError(std::string(flag) + ": belongs to --calibrate, which is not given");
  if (calibrate.calibrate) {
    if (curve.curve) throw egc::UsageError("--calibrate: measures a device; --curve plans a model: give one of them");
    egc::setup_logging(flags.log_level);
    return egc::run_calibrate(app, calibrate, flags.device, flags.out);
  }
  if (!curve.curve) {
    if (!flags.host_memory.empty()) throw egc::UsageError("--host-memory: belongs to --curve, which is not given");
    for (const char* flag : egc::kCurveOnlyFlags)
      if (app.count(flag) > 0) throw egc::UsageError(std::string(flag) + ": belongs to --curve, which is not given");
    return bench_main(app, flags);
  }
  const bool three_way = !flags.host_memory.empty();
  for (const char* flag : sweep_only)
    if (app.count(flag) > 0)
      throw egc::UsageError(std::string(flag) + ": a sweep flag; with --curve the model is --layers/--width/--widths, "
                                                "--in, --out, --activation, --batch or --preset");
  const egc::ModelFlags model = model_flags(flags, curve.layers, flags.width, curve.widths, curve.batch);
  const int code = egc::run_curve(app, model, curve, egc::parse_objective(flags.objective),
                                  flags.profile.empty() ? nullptr : egc::load_profile(flags.profile), flags.csv,
                                  flags.json);
  return code == 0 && three_way ? egc::run_offload_curve(model, curve, flags.host_memory, flags.profile, flags.json) : code;
}

int main(int argc, char** argv) {
  CLI::App app{"egc_bench: compare checkpoint plans across batch sizes and depths.\n"
               "Per row: planned and measured peak memory, forward / recompute / backward time (op by op,\n"
               "synchronised), median step time and samples/s.",
               "egc_bench"};
  app.option_defaults()->always_capture_default();
  BenchFlags flags;
  app.add_option("--plans", flags.plans,
                 "Comma-separated plans: none, sqrtn, every:K, or any other that --plan of egc_train takes "
                 "(PLAN+derive: op-level)")
      ->type_name("LIST");
  app.add_option("--batches", flags.batches, "Comma-separated batch sizes")->type_name("LIST");
  app.add_option("--depths", flags.depths, "Comma-separated numbers of hidden layers")->type_name("LIST");
  app.add_option("--width", flags.width, "Width of every hidden layer")->type_name("H");
  app.add_option("--in", flags.in, "Input features")->type_name("D");
  app.add_option("--out", flags.out,
                 "Output features (default 1; with --loss cross-entropy, --classes); with --calibrate: the FILE the "
                 "profile is written to")
      ->type_name("D|FILE");
  app.add_option("--activation", flags.activation, "relu, gelu, tanh")->type_name("NAME");
  app.add_option("--optimizer", flags.optimizer, "sgd, adam")->type_name("NAME");
  app.add_option("--block", flags.block, "plain or residual (--depths / --layers count blocks), as for egc_train")
      ->type_name("KIND");
  app.add_option("--norm", flags.norm, "Residual blocks: layernorm (default) or none")->type_name("NAME");
  app.add_option("--expand", flags.expand, "Residual blocks: inner width E x --width (default 4)")->type_name("E");
  app.add_option("--dropout", flags.dropout, "Dropout probability, as for egc_train")->type_name("P");
  app.add_option("--loss", flags.loss, "mse or cross-entropy (with --classes)")->type_name("NAME");
  app.add_option("--classes", flags.classes, "Classes for --loss cross-entropy")->type_name("K");
  app.add_option("--steps", flags.steps, "Timed steps per row (the median is reported)")->type_name("N");
  app.add_option("--warmup", flags.warmup, "Untimed steps before timing")->type_name("N");
  app.add_option("--profile-steps", flags.profile_steps, "Steps timed op by op for the forward/backward split")
      ->type_name("N");
  app.add_flag("--no-activation-measure", flags.no_activation_measure,
               "Skip the per-buffer run that measures the activation peak");
  egc::add_device_flags(app, flags.device, "Options", "auto, cpu, cuda, sim (the CPU behind a simulated CUDA driver)");
  app.add_option("--seed", flags.seed, "Seed of the data and the parameters")->type_name("N");
  app.add_option("--profile", flags.profile,
                 "Device profile for the predicted step times and --objective time (default: the device's shipped "
                 "one; with --curve, the CPU reference profile)")
      ->type_name("FILE");
  app.add_option("--host-memory", flags.host_memory,
                 "With --curve: also the three-way plans (keep, recompute or offload) with this much host memory, "
                 "beside the best two-way plan, by predicted step time (--profile FILE prices them)")
      ->type_name("SIZE");
  app.add_option("--objective", flags.objective,
                 "What budget plans minimise within their memory: time (predicted step time) or flops "
                 "(recomputed FLOPs); with --curve, the objective of its budget columns")
      ->type_name("NAME");
  app.add_option("--csv", flags.csv, "Write the rows as CSV to FILE")->type_name("FILE");
  app.add_option("--json", flags.json, "Write the rows and the configuration as JSON to FILE")->type_name("FILE");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, critical, off")->type_name("LEVEL");
  egc::CurveFlags curve;
  egc::add_curve_flags(app, curve);
  egc::CalibrateFlags calibrate;
  egc::add_calibrate_flags(app, calibrate);
  return egc::run_app(app, argc, argv, [&] { return dispatch(app, flags, curve, calibrate); });
}
