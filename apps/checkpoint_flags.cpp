// --checkpoint, --checkpoint-every, --resume, --check-finite.
#include "apps/checkpoint_flags.h"

#include "planner/errors.h"
#include "planner/units.h"
#include "runtime/atomic_file.h"

namespace egc {

void add_checkpoint_flags(CLI::App& app, CheckpointFlags& flags, CLI::Option* load) {
  app.add_option("--checkpoint", flags.checkpoint,
                 "Write the whole training state (parameters, optimizer state, step, data position, random state) "
                 "to FILE, atomically: every --checkpoint-every steps, at the end, and when stopped by SIGINT/SIGTERM")
      ->type_name("FILE")->group("Checkpoints");
  app.add_option("--checkpoint-every", flags.every, "Steps between checkpoints (default: only at the end and on a stop signal)")
      ->type_name("N")->group("Checkpoints");
  app.add_option("--resume", flags.resume,
                 "Continue the run saved in a --checkpoint FILE (same model, data, optimizer and batching; any plan); "
                 "--steps and --epochs count from the run's start")
      ->type_name("FILE")->excludes(load)->group("Checkpoints");
  app.add_flag("--check-finite", flags.check_finite,
               "Also check every layer's gradients after its backward and stop at the first non-finite one (the loss "
               "is always checked)")
      ->group("Checkpoints");
}

CheckpointConfig resolve_checkpoint_flags(const CheckpointFlags& flags) {
  CheckpointConfig config;
  config.path = flags.checkpoint;
  config.resume = flags.resume;
  config.check_finite = flags.check_finite;
  if (!flags.every.empty()) {
    if (flags.checkpoint.empty()) throw UsageError("--checkpoint-every: needs --checkpoint FILE");
    config.every = parse_positive(flags.every, "--checkpoint-every");
  }
  if (!config.path.empty()) check_writable(config.path, "--checkpoint");
  return config;
}

nlohmann::json checkpoint_config_to_json(const CheckpointConfig& config) {
  auto path_or_null = [](const std::string& path) { return path.empty() ? nlohmann::json(nullptr) : nlohmann::json(path); };
  return {{"checkpoint", path_or_null(config.path)},
          {"checkpoint_every", config.every},
          {"resume", path_or_null(config.resume)},
          {"check_finite", config.check_finite}};
}

}  // namespace egc
