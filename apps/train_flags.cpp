// egc_train's flags: registration and resolution into a checked TrainConfig.
#include "apps/train_flags.h"

#include <cstdint>

#include "planner/units.h"
#include "runtime/atomic_file.h"
#include "runtime/calibration.h"
#include "runtime/step_memory.h"

namespace egc {

void add_train_flags(CLI::App& app, TrainFlags& flags) {
  add_model_flags(app, flags.model);
  app.add_option("--plan", flags.plan,
                 "Checkpoint plan: none, sqrtn, every:K (K >= 1), budget:SIZE (least recomputation within an "
                 "activation budget), chen-greedy[:SIZE], auto (fastest plan whose arena fits the memory limit); "
                 "none, sqrtn and every:K with +derive: GELU outputs re-derived from kept pre-activations")
      ->type_name("PLAN")
      ->group("Plan");
  app.add_option("--max-memory", flags.max_memory,
                 "Limit for the whole arena, e.g. 8GiB (default: the device's free memory less a margin): "
                 "--plan auto plans within it; other plans must fit it")
      ->type_name("SIZE")
      ->group("Plan");
  app.add_option("--host-memory", flags.host_memory,
                 "Host memory for offloaded activations, e.g. 16GiB (default: no offloading): with it, "
                 "budget:SIZE plans keep, recompute or offload per layer (three-way planner)")
      ->type_name("SIZE")
      ->group("Plan");
  app.add_option("--objective", flags.objective,
                 "What budget:SIZE and auto minimise within their memory: time (the predicted step time, from "
                 "--profile) or flops (the recomputed forward FLOPs)")
      ->type_name("NAME")
      ->group("Plan");
  app.add_option("--schedule", flags.schedule, "Schedule printout: summary (one line per segment), full (one line per op), none")
      ->type_name("DETAIL")->group("Plan");
  app.add_flag("--dry-run", flags.dry_run, "Plan and print the schedule; do not train")->group("Plan");
  app.add_option("--report", flags.report, "Write the plan, measurements and training results as JSON to FILE")
      ->type_name("FILE")->group("Output");
  app.add_option("--save", flags.save, "Save the trained parameters (safetensors, PyTorch nn.Sequential names) to FILE")
      ->type_name("FILE")->group("Output");
  auto* load = app.add_option("--load", flags.load, "Start from parameters in a safetensors FILE (as written by --save)")
                   ->type_name("FILE")->group("Output");
  add_checkpoint_flags(app, flags.checkpoint, load);
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
  add_device_flags(app, flags.device, "Device",
                   "auto (CUDA when a device is present), cpu, cuda, sim (the CPU behind a simulated CUDA driver: "
                   "cudaMemGetInfo and the allocation granularity, for the memory proof without a GPU)");
  app.add_option("--alloc", flags.alloc,
                 "arena: one allocation of the planned arena; per-buffer: each buffer allocated at its first op "
                 "and freed after its last (measures the activation peak)")
      ->type_name("MODE")->group("Device");
  app.add_option("--measure-steps", flags.measure_steps, "Steps whose every op is bracketed by a memory sample (then one sample per step)")
      ->type_name("N")->group("Device");
  app.add_option("--profile", flags.profile,
                 "Device profile to predict step times from (egc_bench --calibrate writes one; default: the "
                 "backend's shipped profile)")
      ->type_name("FILE")->group("Device");
  app.add_option("--export-batches", flags.export_batches,
                 "Write the dataset and the rows of every training batch (safetensors: inputs, targets, "
                 "eval_rows, batch_rows) so another framework can replay the run")
      ->type_name("FILE")->group("Output");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, critical, off")->type_name("LEVEL")->group("Output");
  app.add_option("--log-every", flags.log_every, "Steps between log lines when stderr is not a terminal (default: 1/20 of the run)")
      ->type_name("N")->group("Output");
}

TrainConfig resolve_train_flags(const CLI::App& app, const TrainFlags& flags) {
  TrainConfig config;
  config.model = resolve_model(flags.model);
  config.plan = parse_plan(flags.plan);
  config.schedule = parse_schedule_detail(flags.schedule);
  config.device = resolve_device(app, flags.device);
  TrainSettings& settings = config.settings;
  settings.alloc = parse_alloc(flags.alloc);
  settings.accumulate = parse_whole(flags.accumulate, "--accumulate", 1, 1u << 20);
  settings.seed = parse_whole(flags.seed, "--seed", 0, ~std::uint64_t{0} >> 1);
  const double default_lr = config.model.optimizer == Optimizer::sgd ? 0.01 : 0.001;
  config.lr = flags.lr.empty() ? default_lr : parse_real(flags.lr, "--lr", 0.0, 1e6);
  config.momentum = parse_real(flags.momentum, "--momentum", 0.0, 1.0);
  settings.optimizer.sgd = {static_cast<float>(config.lr), static_cast<float>(config.momentum)};
  settings.optimizer.adam = {static_cast<float>(config.lr),
                             static_cast<float>(parse_real(flags.beta1, "--beta1", 0.0, 0.999999)),
                             static_cast<float>(parse_real(flags.beta2, "--beta2", 0.0, 0.999999999)),
                             static_cast<float>(parse_real(flags.eps, "--eps", 0.0, 1.0))};
  config.model.sgd_momentum = config.model.optimizer == Optimizer::sgd && config.momentum != 0.0;
  config.noise = parse_real(flags.noise, "--noise", 0.0, 1e6);
  config.samples = parse_whole(flags.samples, "--samples", 1, 1ull << 32);
  config.eval_split = parse_real(flags.eval_split, "--eval-split", 0.0, 0.999999);
  config.measure_steps = parse_whole(flags.measure_steps, "--measure-steps", 0, 1u << 20);
  if (!flags.steps.empty()) config.steps = parse_whole(flags.steps, "--steps", 0, ~std::size_t{0} >> 1);
  if (!flags.epochs.empty()) config.epochs = parse_real(flags.epochs, "--epochs", 1e-9, 1e9);
  if (!flags.log_every.empty()) config.log_every = parse_whole(flags.log_every, "--log-every", 1, ~0u);
  if (!flags.max_memory.empty()) config.run.max_memory = parse_size(flags.max_memory, "--max-memory");
  if (!flags.host_memory.empty()) {
    const std::size_t host_memory = parse_size(flags.host_memory, "--host-memory");
    if (host_memory > 0) config.run.host_memory = host_memory;  // 0: offloading off, as without the flag
  }
  config.run.single_update = flags.single_update || settings.accumulate > 1;
  config.run.micro_batches = settings.accumulate;
  config.run.objective = parse_objective(flags.objective);
  if (!flags.profile.empty()) config.run.profile = load_profile(flags.profile);
  if (!flags.report.empty()) check_writable(flags.report, "--report");
  if (!flags.save.empty()) check_writable(flags.save, "--save");
  if (!flags.export_batches.empty()) check_writable(flags.export_batches, "--export-batches");
  config.checkpoint = resolve_checkpoint_flags(flags.checkpoint);
  return config;
}

}  // namespace egc
