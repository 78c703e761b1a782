// egc_train's training loop: progress and logged losses, the non-finite check, checkpoints every
// N steps and at the end, the stop signals; and how the run ended, for the report and the exit code.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/train_flags.h"
#include "apps/train_report.h"
#include "planner/plan.h"
#include "runtime/backend.h"
#include "runtime/checkpoint.h"
#include "runtime/dataset.h"
#include "runtime/session.h"

namespace egc {

struct RunEnd {
  std::string reason = "completed";  // "completed", "SIGINT", "SIGTERM", "non-finite"
  std::string message;               // what stopped it; empty when completed
  int exit_code = 0;                 // 0, 130, 143, 1
};

struct TrainingOutcome {
  RunSummary run;                              // the steps this process ran
  RunEnd end;
  std::optional<std::size_t> resumed_from;     // the step of the --resume checkpoint
  std::size_t end_step = 0;                    // steps done since the run's start
  std::optional<std::size_t> checkpoint_step;  // the last checkpoint this process wrote
};

// What this run's checkpoints record, and a resumed run must match.
CheckpointFingerprint run_fingerprint(const TrainConfig& config, const Dataset& data);

// The --resume checkpoint's state, checked against this run (nullopt without --resume).
// UsageError naming --resume for a bad file or a checkpoint past `total_steps`.
std::optional<TrainingState> read_resume_state(const TrainConfig& config, const Plan& plan, const Dataset& data,
                                               std::size_t total_steps);

// Trains from the trainer's step count up to `total_steps` (counted from the run's start). A
// non-finite value or a stop signal ends it early; a non-finite one writes no checkpoint.
TrainingOutcome run_training(Session& session, Backend& backend, const TrainConfig& config, const Dataset& data,
                             std::size_t total_steps, std::optional<std::size_t> resumed_from);

// The report's training fields for this: resumed_from_step, end_step, stop_reason, stopped,
// checkpoint.
nlohmann::json outcome_to_json(const TrainingOutcome& outcome, const std::string& checkpoint_path);

}  // namespace egc
