// OffloadModel from the none plan, and model_cost.
#include "planner/offload_model.h"

#include <algorithm>
#include <stdexcept>

#include "planner/op_kernels.h"

namespace egc {

OffloadModel::OffloadModel(const Plan& none, const Plan* plain, const KernelTimer& timer)
    : n(none.chain.size()),
      keep_bytes(n, 0),
      forward_ms(n, 0.0),
      backward_ms(n, 0.0),
      offload_ms(n, 0.0),
      prefetch_ms(n, 0.0),
      none_ms(none.predicted_step_ms) {
  std::size_t largest_output = 0, largest_keep = 0;
  for (const Op& op : none.ops) {
    if (op.layer < 0) continue;
    const std::size_t j = static_cast<std::size_t>(op.layer);
    if (op.kind == OpKind::forward) {
      forward_ms[j] = op.predicted_ms;
      largest_output = std::max(largest_output, none.buffers[op.output].footprint);
      for (BufferId kept : {op.output, op.pre, op.stats}) {
        if (kept == kNoBuffer) continue;
        const Buffer& buffer = none.buffers[kept];
        keep_bytes[j] += buffer.footprint;
        KernelCall copy;
        copy.units = buffer.bytes;
        copy.kind = KernelKind::copy_to_host;
        offload_ms[j] += timer.ms(copy);
        copy.kind = KernelKind::copy_to_device;
        prefetch_ms[j] += timer.ms(copy);
      }
      largest_keep = std::max(largest_keep, keep_bytes[j]);
    }
    if (op.kind == OpKind::backward || op.kind == OpKind::update) backward_ms[j] += op.predicted_ms;
  }
  gradient_bytes = 2 * largest_output;
  // A recomputed layer's first forward keeps no tape: it costs its plain forward, and its
  // recompute (keeping the tape) what none's forward costs.
  forward_plain_ms = forward_ms;
  if (plain) {
    for (const Op& op : plain->ops)
      if (op.kind == OpKind::forward && op.pre == kNoBuffer && op.stats == kNoBuffer)
        forward_plain_ms[static_cast<std::size_t>(op.layer)] = op.predicted_ms;
  }
  // While the forward pass runs: an offloaded output stays on the device through the next two
  // forwards (planner/copy_ops.h), a recomputed one through the next; the op's own output, and
  // at the loss the output's gradient.
  forward_extra = 3 * largest_keep + largest_output;
}

double OffloadModel::offload_exposed_ms(std::size_t j) const {
  const double overlap = j + 2 < n ? forward_ms[j + 2] : 0.0;
  return std::max(0.0, offload_ms[j] - overlap);
}

double OffloadModel::prefetch_exposed_ms(std::size_t j, std::size_t next_end) const {
  const double overlap = next_end + 1 < n ? backward_ms[next_end + 1] : 0.0;
  return std::max(0.0, prefetch_ms[j] - overlap);
}

OffloadModelCost model_cost(const OffloadModel& model, const std::vector<LayerRole>& roles) {
  if (roles.size() != model.n || roles.back() != LayerRole::keep)
    throw std::logic_error("model_cost: one role per layer, the last one keep");
  OffloadModelCost cost;
  cost.step_ms = model.none_ms;
  std::size_t kept_before = 0;  // P(s)
  // The prefetch of the previous segment's input, issued during this segment's last backward.
  std::size_t early_prefetch = 0;
  std::size_t start = 0;
  for (std::size_t end = 0; end < model.n; ++end) {
    const LayerRole role = roles[end];
    if (role == LayerRole::recompute) {
      if (end + 2 >= model.n) throw std::logic_error("model_cost: the last two layers are never recomputed");
      cost.step_ms += model.forward_plain_ms[end];
      continue;
    }
    std::size_t working = kept_before + model.gradient_bytes + early_prefetch;
    for (std::size_t j = start; j <= end; ++j) working += model.keep_bytes[j];
    early_prefetch = 0;
    if (start > 0 && roles[start - 1] == LayerRole::offload) {
      working += model.keep_bytes[start - 1];
      early_prefetch = model.keep_bytes[start - 1];
      cost.step_ms += model.prefetch_exposed_ms(start - 1, end);
    }
    cost.device_bytes = std::max(cost.device_bytes, working);
    if (role == LayerRole::keep) kept_before += model.keep_bytes[end];
    if (role == LayerRole::offload) {
      cost.host_bytes += model.keep_bytes[end];
      cost.step_ms += model.offload_exposed_ms(end);
    }
    start = end + 1;
  }
  cost.device_bytes = std::max(cost.device_bytes, kept_before + model.forward_extra);
  return cost;
}

}  // namespace egc
