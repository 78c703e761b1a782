// Buffer lifetimes and live bytes per op.
#include "planner/liveness.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace egc {

void compute_lifetimes(Plan& plan) {
  constexpr std::size_t unset = static_cast<std::size_t>(-1);
  std::vector<std::size_t> first(plan.buffers.size(), unset), last(plan.buffers.size(), 0);
  std::vector<bool> written(plan.buffers.size(), false);
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const Op& op = plan.ops[i];
    for (BufferId id : op.reads) {
      if (!plan.buffers[id].persistent && !written[id])
        throw std::logic_error("op " + std::to_string(i) + " reads " + plan.buffers[id].name +
                               " before any op writes it");
    }
    for (const auto* list : {&op.reads, &op.writes}) {
      for (BufferId id : *list) {
        if (first[id] == unset) first[id] = i;
        last[id] = i;
      }
    }
    for (BufferId id : op.writes) written[id] = true;
  }
  // An offload's source stays in the device arena until the compute op that waits for the copy
  // (planner/copy_ops.h): its memory is reused only once the copy has read it.
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::offload)
      last[op.input] = std::max(last[op.input], op.waited_by_op == kNoOp ? plan.ops.size() - 1 : op.waited_by_op - 1);
  for (std::size_t id = 0; id < plan.buffers.size(); ++id) {
    Buffer& buffer = plan.buffers[id];
    if (buffer.persistent) {
      buffer.first_op = 0;
      buffer.last_op = plan.ops.empty() ? 0 : plan.ops.size() - 1;
    } else {
      if (first[id] == unset) throw std::logic_error("no op touches " + buffer.name);
      buffer.first_op = first[id];
      buffer.last_op = last[id];
    }
  }
}

std::vector<UsageRecord> usage_records(const Plan& plan, ArenaSide side, std::vector<BufferId>* ids) {
  std::vector<UsageRecord> records;
  records.reserve(plan.buffers.size());
  for (BufferId id = 0; id < plan.buffers.size(); ++id) {
    const Buffer& buffer = plan.buffers[id];
    if (buffer.host != (side == ArenaSide::host)) continue;
    records.push_back({buffer.footprint, buffer.first_op, buffer.last_op});
    if (ids) ids->push_back(id);
  }
  return records;
}

std::vector<std::size_t> live_bytes_per_op(const Plan& plan, const std::function<bool(const Buffer&)>& counts,
                                           ArenaSide side) {
  std::vector<UsageRecord> records;
  for (const Buffer& buffer : plan.buffers)
    if (buffer.host == (side == ArenaSide::host) && (!counts || counts(buffer)))
      records.push_back({buffer.footprint, buffer.first_op, buffer.last_op});
  return live_bytes(records, plan.ops.size());
}

}  // namespace egc
