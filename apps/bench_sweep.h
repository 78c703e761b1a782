// The benchmark sweep behind egc_bench: plans x batch sizes x depths, each row planned, run
// and measured (peak memory, time per op kind, step time, throughput).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/device_profile.h"
#include "planner/model_spec.h"
#include "runtime/backend.h"

namespace egc {

struct SweepConfig {
  ModelSpec model;  // width, activation, optimizer, in/out; batch and depth come from the lists
  std::size_t width = 64;
  std::vector<std::string> plans{"none", "sqrtn", "every:4"};
  std::vector<std::size_t> batches{32, 128, 512};
  std::vector<std::size_t> depths{8, 32};  // hidden layers
  std::size_t steps = 10;                  // timed steps per row (median reported)
  std::size_t warmup = 2;
  std::size_t profile_steps = 3;           // steps timed op by op (synchronised) for the split
  bool measure_activations = true;         // also run per-buffer steps to measure the activation peak
  std::uint64_t seed = 0;
  std::shared_ptr<const DeviceProfile> profile;  // --profile; null: the backend's default
  Objective objective = Objective::time;         // --objective, for budget plans
};

struct SweepRow {
  std::string plan;
  std::size_t depth = 0;  // hidden layers
  std::size_t batch = 0;
  std::size_t planned_arena_bytes = 0;
  std::size_t planned_activation_peak_bytes = 0;
  std::size_t measured_peak_bytes = 0;
  std::optional<std::size_t> measured_activation_peak_bytes;
  std::string measure_method;
  double recompute_fraction = 0;  // recompute FLOPs / forward FLOPs
  double forward_ms = 0;          // op-by-op profile: forward ops
  double recompute_ms = 0;        // recompute ops
  double backward_ms = 0;         // loss and backward ops, recompute included
  double update_ms = 0;
  double step_ms = 0;             // median of the timed steps (no extra synchronisation)
  double predicted_step_ms = 0;   // the plan's prediction from the device profile
  double samples_per_second = 0;
};

std::vector<SweepRow> run_sweep(Backend& backend, const SweepConfig& config,
                                const std::function<void(const SweepRow&)>& on_row = {});

std::string format_sweep_table(const std::vector<SweepRow>& rows);
std::string sweep_csv(const std::vector<SweepRow>& rows);
nlohmann::json sweep_json(const std::vector<SweepRow>& rows, const SweepConfig& config, const std::string& device);

}  // namespace egc
