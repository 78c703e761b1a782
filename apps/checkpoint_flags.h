// egc_train's flags for runs that survive interruption and bad numbers: --checkpoint,
// --checkpoint-every, --resume, --check-finite; their registration, resolution and report fields.
#pragma once

#include <cstddef>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace egc {

struct CheckpointFlags {
  std::string checkpoint;
  std::string every;
  std::string resume;
  bool check_finite = false;
};

struct CheckpointConfig {
  std::string path;        // --checkpoint; empty: none
  std::size_t every = 0;   // steps between checkpoints; 0: at the end and on a stop signal only
  std::string resume;      // --resume; empty: a fresh run
  bool check_finite = false;
};

// `load` is --load, which --resume excludes.
void add_checkpoint_flags(CLI::App& app, CheckpointFlags& flags, CLI::Option* load);

// UsageError naming the flag: --checkpoint-every without --checkpoint or not a positive whole
// number, a --checkpoint path that cannot be written.
CheckpointConfig resolve_checkpoint_flags(const CheckpointFlags& flags);

// The report's config fields: checkpoint, checkpoint_every, resume, check_finite.
nlohmann::json checkpoint_config_to_json(const CheckpointConfig& config);

}  // namespace egc
