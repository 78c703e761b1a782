// Session: one run of a plan, set up in the one order the memory proof needs and owned in one
// place: the step context and the plan (plan_run), then the memory meter, whose baseline is taken
// before the step memory exists (it is constructed first), the trainer, the set-up level, the
// initial parameters; then the measured steps.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "planner/device_profile.h"
#include "planner/model_spec.h"
#include "planner/plan.h"
#include "planner/schedule.h"
#include "runtime/backend.h"
#include "runtime/dataset.h"
#include "runtime/measured_steps.h"
#include "runtime/memory_meter.h"
#include "runtime/trainer.h"

namespace egc {

// What the step needs besides the model, the data and the backend.
struct RunOptions {
  // One update after the backward pass from a whole-step gradient buffer (--single-update; needed
  // by --accumulate K > 1 and to read gradients after a step); else each layer is updated in its
  // backward.
  bool single_update = false;
  // The arena's limit: --max-memory as given; otherwise the device's free memory where the backend
  // reports one (planner/auto_plan.h keeps a margin below it), none on the host.
  std::optional<std::size_t> max_memory;
  // The host arena's cap for offloaded activations (--host-memory); none: offloading off.
  std::optional<std::size_t> host_memory;
  std::size_t micro_batches = 1;  // --accumulate: for the predicted step time
  // What the plan's times are predicted from (--profile; runtime/calibration.h choose_profile);
  // null: the backend's default profile.
  std::shared_ptr<const DeviceProfile> profile;
  Objective objective = Objective::time;  // --objective: what budget and auto plans minimise
};

// The step context of `model` training on `data` with `backend`: the resident rows, the backend's
// workspace, the update mode and the memory limit.
StepContext step_context(const ModelSpec& model, const Dataset& data, Backend& backend, const RunOptions& options = {});

// make_plan for that context.
Plan plan_run(const ModelSpec& model, const Dataset& data, Backend& backend, const PlanSpec& spec,
              const RunOptions& options = {});

class Session {
 public:
  // Warms the backend up for the plan's chain (Backend::warm_up), takes the meter's baseline,
  // allocates the step memory (the trainer), records the set-up level, then sets the parameters:
  // `initial` where given, PyTorch's default initialisation otherwise.
  // `plan`, `backend` and `data` must outlive the session.
  Session(const Plan& plan, Backend& backend, const Dataset& data, const TrainSettings& settings,
          const std::vector<float>* initial = nullptr);

  // `steps` optimizer steps, the first `sampled_steps` with a memory sample around every op;
  // fewer when `stop` (asked before each step) says so.
  MeasuredSteps train(std::size_t steps, std::size_t sampled_steps, const StepCallback& on_step = {},
                      const std::function<bool()>& stop = {});
  // What the meter has seen so far.
  MeasuredMemory measured() const { return meter_.result(trainer_.memory()); }

  Trainer& trainer() { return trainer_; }
  MemoryMeter& meter() { return meter_; }
  const Plan& plan() const { return plan_; }

 private:
  const Plan& plan_;
  bool warmed_up_;     // members are constructed in this order: the warm-up, the meter's
  MemoryMeter meter_;  // baseline, then the step memory
  Trainer trainer_;
};

}  // namespace egc
