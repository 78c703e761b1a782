// The predicted time of a training step: every op's kernels (planner/op_kernels.h) priced by a
// device profile, plus per micro-batch the batch load and the loss read back; the ops before the
// final update run once per micro-batch. Compute kernels run one after another on one stream;
// the offload and prefetch copies on a second one, ordered by the plan's events
// (simulate_streams): a copy costs the step nothing where the compute it overlaps covers it, and
// stalls the compute op that waits for it where it does not. Without copies a step's time is the
// sum of its kernels' times.
#pragma once

#include "planner/device_profile.h"
#include "planner/plan.h"

namespace egc {

// Two streams over ops [0, end) of a micro-batch, from each op's predicted_ms, starting at
// `start_ms`: the compute stream runs its ops in order, each after the copies that it waits for
// (Op::waited_by_op); the copy stream runs its copies in order, each after the compute op it
// waits for (Op::wait_for_op); the micro-batch ends when both streams are done.
struct StreamTimeline {
  double compute_ms = 0;  // when the micro-batch ends (start_ms included)
  double copy_ms = 0;     // the copies' own time, hidden or not
  double stall_ms = 0;    // what the compute stream waited for copies: the exposed copy time
};
StreamTimeline simulate_streams(const Plan& plan, std::size_t end, double start_ms);

// Fills Op::predicted_ms, Plan::predicted_step_ms (and the copies' share: predicted_copy_ms,
// predicted_stall_ms) and Plan::profile_name.
void predict_step_time(Plan& plan, const KernelTimer& timer);

// The profile the plan's context names, or the CPU reference default.
const DeviceProfile& profile_of(const StepContext& context);

}  // namespace egc
