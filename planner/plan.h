// Plan: the complete static memory plan of one training step, a plain value. Ops in execution
// order, every buffer with its size, lifetime and arena offset, and the totals the report shows.
#pragma once

#include <array>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "planner/chain.h"
#include "planner/enum_names.h"
#include "planner/model_spec.h"

namespace egc {

constexpr std::size_t kArenaAlignment = 256;  // every offset and footprint is a multiple of this
// What a tensor of `bytes` occupies in the arena: rounded up to kArenaAlignment. Throws
// UsageError when that does not fit in 64 bits.
std::size_t footprint_of(std::size_t bytes);

using BufferId = std::size_t;
constexpr BufferId kNoBuffer = std::numeric_limits<BufferId>::max();

enum class BufferKind {
  parameters,
  gradients,
  optimizer_state,
  activations,           // layer outputs, pre-activations (tapes) and their recomputed copies, forward scratch
  activation_gradients,  // gradients of the loss with respect to layer outputs, backward scratch
  workspace,             // backend scratch (cuBLAS workspace, CUB temporary storage), loss value
  data,                  // the resident dataset and the current batch
};
inline constexpr EnumName<BufferKind> kBufferKindNames[] = {
    {BufferKind::parameters, "parameters"},       {BufferKind::gradients, "gradients"},
    {BufferKind::optimizer_state, "optimizer_state"}, {BufferKind::activations, "activations"},
    {BufferKind::activation_gradients, "activation_gradients"}, {BufferKind::workspace, "workspace"},
    {BufferKind::data, "data"}};
constexpr std::size_t kBufferKindCount = count_of(kBufferKindNames);
static_assert(names_in_order(kBufferKindNames) && kBufferKindCount == 1 + int(BufferKind::data));
constexpr const char* to_string(BufferKind kind) { return name_of(kBufferKindNames, kind); }
bool counts_as_activation(BufferKind kind);  // activations and activation_gradients

struct Buffer {
  std::string name;
  BufferKind kind = BufferKind::activations;
  std::size_t bytes = 0;      // what the tensor needs
  std::size_t footprint = 0;  // bytes rounded up to kArenaAlignment: what it occupies
  std::size_t offset = 0;     // in the arena
  std::size_t first_op = 0;   // lifetime: alive at every op index in [first_op, last_op]
  std::size_t last_op = 0;
  bool persistent = false;    // alive across steps: parameters, optimizer state, data, ...
  int layer = -1;             // the chain layer it belongs to, -1 for none
  // In the host arena (an offloaded copy: plan.host_arena_bytes, offset in that arena) rather
  // than the device arena; counted in neither live_bytes nor the breakdown.
  bool host = false;
};

// derive: op-level recomputation, a layer's output re-derived pointwise from its kept
// pre-activation (ScheduleBuilder::derive). offload and prefetch run on the copy stream
// (planner/copy_ops.h), every other kind on the compute stream.
enum class OpKind { forward, recompute, loss, backward, update, derive, offload, prefetch };
inline constexpr EnumName<OpKind> kOpKindNames[] = {{OpKind::forward, "forward"},
                                                   {OpKind::recompute, "recompute"},
                                                   {OpKind::loss, "loss"},
                                                   {OpKind::backward, "backward"},
                                                   {OpKind::update, "update"},
                                                   {OpKind::derive, "derive"},
                                                   {OpKind::offload, "offload"},
                                                   {OpKind::prefetch, "prefetch"}};
constexpr std::size_t kOpKindCount = count_of(kOpKindNames);
static_assert(names_in_order(kOpKindNames) && kOpKindCount == 1 + int(OpKind::prefetch));
constexpr const char* to_string(OpKind kind) { return name_of(kOpKindNames, kind); }
constexpr bool is_copy(OpKind kind) { return kind == OpKind::offload || kind == OpKind::prefetch; }

constexpr std::size_t kNoOp = std::numeric_limits<std::size_t>::max();

struct Op {
  OpKind kind = OpKind::forward;
  int layer = -1;  // chain layer (unit); -1 for loss and update
  // Operands, kNoBuffer where the op has none.
  //   forward/recompute: input -> output (and, when kept, the tape: pre, the GELU pre-activation
  //                      or a block's inner pre-activation, and stats, a block's LayerNorm
  //                      statistics); a block also writes `scratch` (its inner activation)
  //   loss:              input (the prediction), output (its gradient); reads the batch targets
  //   backward:          grad_output (dL/d layer output, overwritten in place by dL/d pre-activation),
  //                      saved (output or pre-activation the derivative needs), input (for the
  //                      weight gradient) -> grad_input (dL/d input; none for layer 0), and the
  //                      layer's parameter gradients into `gradients`. A block reads its tape
  //                      (saved = its pre, stats), uses `scratch` (batch x inner) and, with
  //                      LayerNorm, `scratch_outer` (batch x width), and adds its input gradient
  //                      to grad_output in place: grad_input == grad_output (the residual's)
  //   update:            layer -1: every parameter from the whole-step `gradients` buffer;
  //                      layer i: layer i's parameters from its own `gradients` buffer
  //   derive:            input (the layer's kept pre-activation) -> output, a new instance of the
  //                      layer's output: dropout(activation(input)), bit for bit the forward's
  //   offload:           input (a device buffer) -> output (its host copy), on the copy stream
  //   prefetch:          input (a host copy) -> output (a new device instance), on the copy stream
  BufferId input = kNoBuffer;
  BufferId output = kNoBuffer;
  BufferId pre = kNoBuffer;
  BufferId saved = kNoBuffer;
  BufferId grad_output = kNoBuffer;
  BufferId grad_input = kNoBuffer;
  BufferId stats = kNoBuffer;
  BufferId scratch = kNoBuffer;
  BufferId scratch_outer = kNoBuffer;
  // backward and update: where the layer's parameter gradients are. A per-layer buffer holds
  // weight then bias; the whole-step buffer follows the parameter layout.
  BufferId gradients = kNoBuffer;
  // backward and update: the parameters the op reads or updates, as floats [first, first + count)
  // of the flat parameter buffer (the optimizer state has the same layout; backward: the layer's
  // weight, then its bias), and the float of `gradients` where their gradients start.
  std::size_t param_first = 0;
  std::size_t param_count = 0;
  std::size_t gradient_first = 0;
  std::vector<BufferId> reads;   // every buffer the op reads, persistent ones included
  std::vector<BufferId> writes;  // every buffer the op writes
  double predicted_ms = 0;       // its kernels priced by the device profile (planner/step_time.h)
  // offload and prefetch: the events ordering the copy stream against the compute stream. The
  // copy starts after compute op `wait_for_op` (the last compute op issued before it; kNoOp:
  // none) and compute op `waited_by_op` starts after the copy (kNoOp: the end of the step).
  std::size_t wait_for_op = kNoOp;
  std::size_t waited_by_op = kNoOp;
};

// The buffers every step uses, whatever the schedule (kNoBuffer where not needed).
struct StepBuffers {
  BufferId params = kNoBuffer;
  BufferId grads = kNoBuffer;     // whole-step gradients (single_update only)
  BufferId velocity = kNoBuffer;  // SGD momentum
  BufferId adam_m = kNoBuffer;
  BufferId adam_v = kNoBuffer;
  BufferId dataset_inputs = kNoBuffer;
  BufferId dataset_targets = kNoBuffer;
  BufferId batch_indices = kNoBuffer;  // uint32 row indices of the current batch
  BufferId batch_inputs = kNoBuffer;
  BufferId batch_targets = kNoBuffer;
  BufferId loss = kNoBuffer;
  BufferId workspace = kNoBuffer;
};

struct KindTotals {
  std::size_t buffers = 0;
  std::size_t total_bytes = 0;  // sum of the footprints of every buffer of the kind
  std::size_t peak_bytes = 0;   // the largest sum of live footprints of the kind at any op
};

struct Plan {
  std::string name;  // as the user wrote it: "sqrtn", "every:4", ...
  std::string description;  // one line: how the schedule was chosen
  ModelSpec model;
  StepContext context;
  Chain chain;
  std::vector<Buffer> buffers;
  std::vector<Op> ops;
  StepBuffers step;

  std::vector<std::size_t> live_bytes;  // per op: sum of the footprints of live buffers
  std::size_t arena_bytes = 0;          // the one allocation
  std::vector<std::size_t> host_live_bytes;  // per op: the same for the host buffers (offloaded copies)
  std::size_t host_arena_bytes = 0;     // the host arena (pinned on CUDA); 0 when nothing is offloaded
  std::size_t live_peak_bytes = 0;      // lower bound for arena_bytes: max of live_bytes
  std::size_t activation_peak_bytes = 0;
  std::string layout_strategy;          // which offset assignment produced arena_bytes
  // Layers whose first-pass output survives the forward pass, or whose first-pass pre-activation
  // does and a derive op re-derives the output from it (an op-level checkpoint).
  std::vector<std::size_t> checkpoints;
  std::size_t recomputed_forwards = 0;
  std::size_t derived_outputs = 0;      // derive ops: outputs re-derived from a kept pre-activation
  // Checkpoint instances read in a later window than the one that made them but not by their
  // layer's backward: dropped, and re-made from an earlier checkpoint (budget.h, drop-and-re-derive).
  std::size_t dropped_checkpoints = 0;
  std::size_t recompute_flops = 0;
  std::size_t forward_flops = 0;        // one forward pass of the whole chain
  double predicted_step_ms = 0;         // planner/step_time.h: the ops and the batch loads of a step
  double predicted_copy_ms = 0;         // of which on the copy stream (offload, prefetch), hidden or not
  double predicted_stall_ms = 0;        // the compute stream waiting for copies: their exposed time
  std::string profile_name;             // the device profile the prediction comes from
  std::array<KindTotals, kBufferKindCount> breakdown{};

  std::size_t loss_op() const;  // index of the loss op
};

}  // namespace egc

namespace egc {

// Whether finalize_plan assigns arena offsets (the costly part) or only measures lifetimes and
// totals: candidate schedules that are only compared need no offsets, the chosen plan does.
enum class Offsets { assign, skip };

// Derives everything after the ops: lifetimes, live bytes, arena offsets (with skip: all 0 and
// arena_bytes = live_peak_bytes), checkpoints, recompute counts and the breakdown. Called once
// by ScheduleBuilder::finish.
void finalize_plan(Plan& plan, Offsets offsets = Offsets::assign);

}  // namespace egc
