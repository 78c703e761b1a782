// predict_step_time: the kernels of every op and of the batch loads, priced and summed.
#include "planner/step_time.h"

#include <algorithm>
#include <vector>

namespace egc {
namespace {

double calls_ms(const KernelTimer& timer, const std::vector<KernelCall>& calls) {
  double ms = 0;
  for (const KernelCall& call : calls) ms += timer.ms(call);
  return ms;
}

}  // namespace

StreamTimeline simulate_streams(const Plan& plan, std::size_t end, double start_ms) {
  StreamTimeline timeline;
  timeline.compute_ms = start_ms;
  std::vector<double> finish(end, 0.0);
  std::vector<double> ready(end, 0.0);  // per compute op: when the copies it waits for are done
  double copy_free = start_ms;
  for (std::size_t i = 0; i < end; ++i) {
    const Op& op = plan.ops[i];
    if (is_copy(op.kind)) {
      const double after = op.wait_for_op == kNoOp ? start_ms : finish[op.wait_for_op];
      finish[i] = copy_free = std::max(copy_free, after) + op.predicted_ms;
      timeline.copy_ms += op.predicted_ms;
      if (op.waited_by_op < end) ready[op.waited_by_op] = std::max(ready[op.waited_by_op], finish[i]);
      continue;
    }
    // Without copies this is the plain sum of the ops' times, in op order.
    if (ready[i] > timeline.compute_ms) {
      timeline.stall_ms += ready[i] - timeline.compute_ms;
      timeline.compute_ms = ready[i];
    }
    finish[i] = timeline.compute_ms += op.predicted_ms;
  }
  // The end of the micro-batch waits for the copies nothing waited for.
  if (copy_free > timeline.compute_ms) {
    timeline.stall_ms += copy_free - timeline.compute_ms;
    timeline.compute_ms = copy_free;
  }
  return timeline;
}

const DeviceProfile& profile_of(const StepContext& context) {
  return context.profile ? *context.profile : default_cpu_profile();
}

void predict_step_time(Plan& plan, const KernelTimer& timer) {
  const std::size_t rows = plan.chain.batch;
  const std::size_t micro_batches = std::max<std::size_t>(plan.context.micro_batches, 1);
  double micro_batch_ms = calls_ms(timer, batch_load_kernels(plan, rows)) + calls_ms(timer, loss_readback_kernels(plan));
  double final_update_ms = 0;
  for (std::size_t i = 0; i < plan.ops.size(); ++i)
    plan.ops[i].predicted_ms = calls_ms(timer, op_kernels(plan, i, rows));
  // With one update of all parameters (single_update), it runs once per step, after the
  // micro-batches; everything else runs once per micro-batch.
  std::size_t end = plan.ops.size();
  if (plan.context.single_update && !plan.ops.empty() && plan.ops.back().kind == OpKind::update)
    final_update_ms = plan.ops[--end].predicted_ms;
  const StreamTimeline timeline = simulate_streams(plan, end, micro_batch_ms);
  micro_batch_ms = timeline.compute_ms;
  plan.predicted_step_ms = static_cast<double>(micro_batches) * micro_batch_ms + final_update_ms;
  plan.predicted_copy_ms = static_cast<double>(micro_batches) * timeline.copy_ms;
  plan.predicted_stall_ms = static_cast<double>(micro_batches) * timeline.stall_ms;
  plan.profile_name = timer.profile().name;
}

}  // namespace egc
