// link_copy_events and with_offloads.
#include "planner/copy_ops.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace egc {

void link_copy_events(Plan& plan) {
  std::size_t last_compute = kNoOp;
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    Op& op = plan.ops[i];
    if (!is_copy(op.kind)) {
      last_compute = i;
      continue;
    }
    op.wait_for_op = last_compute;
    op.waited_by_op = kNoOp;
    std::size_t computes = 0;
    for (std::size_t j = i + 1; j < plan.ops.size() && op.waited_by_op == kNoOp; ++j) {
      const Op& later = plan.ops[j];
      if (is_copy(later.kind)) continue;
      const bool reads = std::find(later.reads.begin(), later.reads.end(), op.output) != later.reads.end();
      if (op.kind == OpKind::offload ? ++computes > kOffloadOverlapOps : reads) op.waited_by_op = j;
    }
    if (op.kind == OpKind::prefetch && op.waited_by_op == kNoOp)
      throw std::logic_error("prefetch op " + std::to_string(i) + " brings back " + plan.buffers[op.output].name +
                             " but no compute op reads it");
  }
}

namespace {

bool is_compute_call(const ScheduleCall& call) { return !is_copy(call.kind); }

// Whether `call` reads the first-pass output or tape of `layer`.
bool reads_layer(const ScheduleCall& call, std::size_t layer) {
  if (call.kind == OpKind::backward) return call.layer == layer || call.layer == layer + 1;
  return (call.kind == OpKind::forward || call.kind == OpKind::recompute) && call.layer == layer + 1;
}

// Where layer's copies go in `calls`: after its next layer's forward (the offload), and before
// the call kPrefetchLeadOps compute calls ahead of its first reader after the loss (the prefetch).
struct CopyPoints {
  std::size_t offload_after = 0;
  std::size_t prefetch_before = 0;
};

CopyPoints copy_points(const std::vector<ScheduleCall>& calls, std::size_t loss, std::size_t layer) {
  std::size_t next_forward = calls.size(), first_reader = calls.size();
  for (std::size_t i = 0; i < loss; ++i)
    if (calls[i].kind == OpKind::forward && calls[i].layer == layer + 1) next_forward = i;
  for (std::size_t i = loss + 1; i < calls.size() && first_reader == calls.size(); ++i) {
    if (calls[i].kind == OpKind::recompute && calls[i].layer == layer)
      throw std::logic_error("with_offloads: layer " + std::to_string(layer) + " is recomputed, not offloaded");
    if (reads_layer(calls[i], layer)) first_reader = i;
  }
  if (next_forward == calls.size() || first_reader == calls.size())
    throw std::logic_error("with_offloads: layer " + std::to_string(layer) + " is not read across the loss");
  std::size_t issue = first_reader;
  for (std::size_t lead = 0; lead < kPrefetchLeadOps && issue > loss + 1;) {
    --issue;
    if (is_compute_call(calls[issue])) ++lead;
  }
  return {next_forward, issue};
}

}  // namespace

std::vector<ScheduleCall> with_offloads(const std::vector<ScheduleCall>& calls, std::size_t layers,
                                        const std::vector<std::size_t>& offloaded) {
  const auto loss = std::find_if(calls.begin(), calls.end(), [](const ScheduleCall& c) { return c.kind == OpKind::loss; });
  if (loss == calls.end()) throw std::logic_error("with_offloads: no loss call");
  // Per call index: the layers offloaded after it and prefetched before it.
  std::vector<std::vector<std::size_t>> offload_after(calls.size()), prefetch_before(calls.size());
  for (std::size_t layer : offloaded) {
    if (layer + 1 >= layers) throw std::logic_error("with_offloads: the last layer's output feeds the loss");
    const CopyPoints points = copy_points(calls, static_cast<std::size_t>(loss - calls.begin()), layer);
    offload_after[points.offload_after].push_back(layer);
    prefetch_before[points.prefetch_before].push_back(layer);
  }
  std::vector<ScheduleCall> result;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    for (std::size_t layer : prefetch_before[i]) result.push_back({OpKind::prefetch, layer, false});
    result.push_back(calls[i]);
    for (std::size_t layer : offload_after[i]) result.push_back({OpKind::offload, layer, false});
  }
  return result;
}

}  // namespace egc
