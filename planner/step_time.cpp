// predict_step_time: the kernels of every op and of the batch loads, priced and summed.
#include "planner/step_time.h"

namespace egc {
namespace {

double calls_ms(const KernelTimer& timer, const std::vector<KernelCall>& calls) {
  double ms = 0;
  for (const KernelCall& call : calls) ms += timer.ms(call);
  return ms;
}

}  // namespace

const DeviceProfile& profile_of(const StepContext& context) {
  return context.profile ? *context.profile : default_cpu_profile();
}

void predict_step_time(Plan& plan, const KernelTimer& timer) {
  const std::size_t rows = plan.chain.batch;
  const std::size_t micro_batches = std::max<std::size_t>(plan.context.micro_batches, 1);
  double micro_batch_ms = calls_ms(timer, batch_load_kernels(plan, rows)) + calls_ms(timer, loss_readback_kernels(plan));
  double final_update_ms = 0;
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    Op& op = plan.ops[i];
    op.predicted_ms = calls_ms(timer, op_kernels(plan, i, rows));
    // With one update of all parameters (single_update), it runs once per step, after the
    // micro-batches; everything else runs once per micro-batch.
    if (plan.context.single_update && op.kind == OpKind::update)
      final_update_ms += op.predicted_ms;
    else
      micro_batch_ms += op.predicted_ms;
  }
  plan.predicted_step_ms = static_cast<double>(micro_batches) * micro_batch_ms + final_update_ms;
  plan.profile_name = timer.profile().name;
}

}  // namespace egc
