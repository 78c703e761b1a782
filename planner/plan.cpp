// finalize_plan: lifetimes, live bytes, offsets and totals of a scheduled step.
#include "planner/plan.h"

#include <algorithm>
#include <stdexcept>

#include "planner/liveness.h"
#include "planner/offsets.h"
#include "planner/units.h"

namespace egc {

bool counts_as_activation(BufferKind kind) {
  return kind == BufferKind::activations || kind == BufferKind::activation_gradients;
}

std::size_t footprint_of(std::size_t bytes) {
  checked_add(bytes, kArenaAlignment - 1, "buffer footprint");
  return align_up(bytes, kArenaAlignment);
}

std::size_t Plan::loss_op() const {
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i].kind == OpKind::loss) return i;
  throw std::logic_error("plan has no loss op");
}

namespace {

// Assigns the offsets of the buffers of one side and returns that arena's size.
std::size_t lay_out(Plan& plan, ArenaSide side, std::string* strategy) {
  std::vector<BufferId> ids;
  const std::vector<UsageRecord> records = usage_records(plan, side, &ids);
  if (records.empty()) return 0;
  const ArenaLayout layout = assign_offsets(records);
  for (std::size_t i = 0; i < ids.size(); ++i) plan.buffers[ids[i]].offset = layout.offsets[i];
  if (strategy) *strategy = layout.strategy;
  return layout.arena_bytes;
}

// Layer outputs (of forward and recompute ops) that an op of a later window reads (the first pass
// and the loss are window 0; each backward ends one) and their layer's backward does not.
std::size_t count_dropped_checkpoints(const Plan& plan) {
  constexpr std::size_t kUnmade = static_cast<std::size_t>(-1);
  std::vector<std::size_t> made_in(plan.buffers.size(), kUnmade);
  std::vector<bool> read_later(plan.buffers.size(), false), read_by_backward(plan.buffers.size(), false);
  std::size_t window = 0;
  for (const Op& op : plan.ops) {
    const bool computes = op.kind == OpKind::forward || op.kind == OpKind::recompute;
    if (computes && op.input != kNoBuffer && made_in[op.input] != kUnmade && made_in[op.input] < window)
      read_later[op.input] = true;
    if (computes) made_in[op.output] = window;
    if (op.kind == OpKind::backward && op.input != kNoBuffer) read_by_backward[op.input] = true;
    if (op.kind == OpKind::backward || op.kind == OpKind::loss) ++window;
  }
  std::size_t dropped = 0;
  for (BufferId id = 0; id < plan.buffers.size(); ++id) dropped += read_later[id] && !read_by_backward[id];
  return dropped;
}

// Checkpoints, recompute ops and their FLOPs, derive ops: what a plan recomputes and what it keeps.
void count_recomputation(Plan& plan) {
  const std::size_t loss = plan.loss_op();
  plan.checkpoints.clear();
  plan.recomputed_forwards = 0;
  plan.recompute_flops = 0;
  plan.derived_outputs = 0;
  std::vector<bool> derived_from(plan.buffers.size(), false);  // pre-activations a derive op reads
  for (const Op& op : plan.ops) {
    if (op.kind != OpKind::derive) continue;
    ++plan.derived_outputs;
    derived_from[op.input] = true;
  }
  // An offloaded output survives the forward pass too, in the host arena.
  std::vector<bool> offloaded(plan.buffers.size(), false);
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::offload) offloaded[op.input] = true;
  auto survives = [&](BufferId id) { return id != kNoBuffer && (plan.buffers[id].last_op > loss || offloaded[id]); };
  plan.dropped_checkpoints = count_dropped_checkpoints(plan);
  for (const Op& op : plan.ops) {
    if (op.kind == OpKind::recompute) {
      ++plan.recomputed_forwards;
      plan.recompute_flops += plan.chain.layers[static_cast<std::size_t>(op.layer)].forward_flops;
    }
    if (op.kind == OpKind::forward && static_cast<std::size_t>(op.layer) + 1 < plan.chain.size() &&
        (survives(op.output) || (survives(op.pre) && derived_from[op.pre])))
      plan.checkpoints.push_back(static_cast<std::size_t>(op.layer));
  }
}

}  // namespace

void finalize_plan(Plan& plan, Offsets offsets) {
  compute_lifetimes(plan);
  std::size_t total = 0;
  for (const Buffer& buffer : plan.buffers) total = checked_add(total, buffer.footprint, "bytes of the plan");

  auto peak = [](const std::vector<std::size_t>& live) {
    return live.empty() ? std::size_t{0} : *std::max_element(live.begin(), live.end());
  };
  plan.live_bytes = live_bytes_per_op(plan);
  plan.live_peak_bytes = peak(plan.live_bytes);
  plan.activation_peak_bytes =
      peak(live_bytes_per_op(plan, [](const Buffer& buffer) { return counts_as_activation(buffer.kind); }));

  plan.host_live_bytes = live_bytes_per_op(plan, {}, ArenaSide::host);
  if (offsets == Offsets::assign) {
    plan.arena_bytes = lay_out(plan, ArenaSide::device, &plan.layout_strategy);
    plan.host_arena_bytes = lay_out(plan, ArenaSide::host, nullptr);
  } else {
    for (Buffer& buffer : plan.buffers) buffer.offset = 0;
    plan.arena_bytes = plan.live_peak_bytes;
    plan.host_arena_bytes = peak(plan.host_live_bytes);
    plan.layout_strategy = "not assigned (measured only)";
  }

  plan.breakdown = {};
  for (const Buffer& buffer : plan.buffers) {
    if (buffer.host) continue;  // the breakdown is the device arena's
    KindTotals& totals = plan.breakdown[static_cast<std::size_t>(buffer.kind)];
    ++totals.buffers;
    totals.total_bytes += buffer.footprint;
  }
  for (std::size_t kind = 0; kind < kBufferKindCount; ++kind)
    plan.breakdown[kind].peak_bytes = peak(live_bytes_per_op(
        plan, [kind](const Buffer& buffer) { return static_cast<std::size_t>(buffer.kind) == kind; }));

  count_recomputation(plan);
  plan.forward_flops = 0;
  for (const Layer& layer : plan.chain.layers) plan.forward_flops += layer.forward_flops;
}

}  // namespace egc
