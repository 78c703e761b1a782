// The training loop with checkpoints, the non-finite check and the stop signals.
#include "apps/training_loop.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <spdlog/spdlog.h>

#include "apps/progress.h"
#include "apps/signals.h"
#include "planner/errors.h"
#include "runtime/finite_check.h"

namespace egc {

CheckpointFingerprint run_fingerprint(const TrainConfig& config, const Dataset& data) {
  return checkpoint_fingerprint(config.model, data, config.settings.optimizer, config.settings.accumulate);
}

std::optional<TrainingState> read_resume_state(const TrainConfig& config, const Plan& plan, const Dataset& data,
                                               std::size_t total_steps) {
  const std::string& path = config.checkpoint.resume;
  if (path.empty()) return std::nullopt;
  TrainingState state = read_checkpoint(path, {plan.chain, plan.model, run_fingerprint(config, data), data.train_rows});
  if (state.step > total_steps)
    throw UsageError("--resume: '" + path + "' is at step " + std::to_string(state.step) + ", past this run's end at step " +
                     std::to_string(total_steps) + " (--steps and --epochs count from the run's start)");
  spdlog::info("resuming from step {} of {} ({})", state.step, total_steps, path);
  return state;
}

namespace {

// Writes the trainer's state unless its parameters are not finite (then NonFiniteError, and the
// previous checkpoint stays).
void save_checkpoint(Trainer& trainer, const Plan& plan, const std::string& path, const CheckpointFingerprint& fingerprint,
                     TrainingOutcome& outcome) {
  const TrainingState state = trainer.state();
  check_finite_parameters(plan.chain, state.params, state.step);
  write_checkpoint(path, plan.chain, state, fingerprint, plan.name);
  outcome.checkpoint_step = state.step;
  spdlog::debug("checkpoint of step {} written to {}", state.step, path);
}

}  // namespace

TrainingOutcome run_training(Session& session, Backend& backend, const TrainConfig& config, const Dataset& data,
                             std::size_t total_steps, std::optional<std::size_t> resumed_from) {
  Trainer& trainer = session.trainer();
  const Plan& plan = session.plan();
  const CheckpointConfig& checkpoints = config.checkpoint;
  const CheckpointFingerprint fingerprint = checkpoints.path.empty() ? CheckpointFingerprint{} : run_fingerprint(config, data);
  TrainingOutcome outcome;
  outcome.resumed_from = resumed_from;
  RunSummary& run = outcome.run;
  const std::size_t first = trainer.steps_done();
  run.samples_per_step = config.model.batch * config.settings.accumulate;
  const std::size_t log_every = config.log_every.value_or(std::max<std::size_t>(1, total_steps / 20));
  Progress progress(total_steps - first, run.samples_per_step, log_every, ::isatty(::fileno(stderr)) != 0);
  std::vector<float> losses;
  const auto on_step = [&](std::size_t local_step, float loss) {
    const std::size_t step = first + local_step;  // logged as counted from the run's start
    losses.push_back(loss);
    const std::optional<float> accuracy = trainer.last_accuracy();
    if (step % log_every == 0 || step == total_steps) {
      run.logged_losses.push_back({{"step", step}, {"loss", loss}});
      if (accuracy) run.logged_losses.back()["accuracy"] = *accuracy;
    }
    progress.update(local_step, loss, accuracy);
    if (checkpoints.every != 0 && step % checkpoints.every == 0)
      save_checkpoint(trainer, plan, checkpoints.path, fingerprint, outcome);
  };
  FiniteCheck check(trainer, backend, checkpoints.check_finite);
  Executor& executor = trainer.executor();
  const Executor::OpHook previous = executor.hook();
  executor.set_hook(check.hook(previous));
  install_stop_signals();
  const auto start = std::chrono::steady_clock::now();
  try {
    run.measured = session.train(total_steps - first, config.measure_steps, on_step, [] { return stop_signal() != 0; });
    if (const int signal = stop_signal())
      outcome.end = {signal_name(signal), std::string(signal_name(signal)) + " after step " + std::to_string(trainer.steps_done()),
                     128 + signal};
    if (!checkpoints.path.empty() && outcome.checkpoint_step != trainer.steps_done())
      save_checkpoint(trainer, plan, checkpoints.path, fingerprint, outcome);
  } catch (const NonFiniteError& error) {
    outcome.end = {"non-finite", error.what(), 1};
    run.measured.losses = losses;
    run.measured.memory = session.measured();
  }
  executor.set_hook(previous);
  progress.finish();
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.steps = losses.size();
  outcome.end_step = trainer.steps_done();
  if (outcome.end.exit_code != 0) spdlog::warn("training stopped: {}", outcome.end.message);
  return outcome;
}

nlohmann::json outcome_to_json(const TrainingOutcome& outcome, const std::string& checkpoint_path) {
  const auto number_or_null = [](std::optional<std::size_t> value) { return value ? nlohmann::json(*value) : nlohmann::json(nullptr); };
  return {{"resumed_from_step", number_or_null(outcome.resumed_from)},
          {"end_step", outcome.end_step},
          {"stop_reason", outcome.end.reason},
          {"stopped", outcome.end.message.empty() ? nlohmann::json(nullptr) : nlohmann::json(outcome.end.message)},
          {"checkpoint", outcome.checkpoint_step ? nlohmann::json{{"path", checkpoint_path}, {"step", *outcome.checkpoint_step}}
                                                 : nlohmann::json(nullptr)}};
}

}  // namespace egc
