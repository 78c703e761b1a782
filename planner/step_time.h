// The predicted time of a training step: every op's kernels (planner/op_kernels.h) priced by a
// device profile, plus per micro-batch the batch load and the loss read back; the ops before the
// final update run once per micro-batch. Kernels run one after another (one stream), so a step's
// time is the sum of its kernels' times.
#pragma once

#include "planner/device_profile.h"
#include "planner/plan.h"

namespace egc {

// Fills Op::predicted_ms, Plan::predicted_step_ms and Plan::profile_name.
void predict_step_time(Plan& plan, const KernelTimer& timer);

// The profile the plan's context names, or the CPU reference default.
const DeviceProfile& profile_of(const StepContext& context);

}  // namespace egc
