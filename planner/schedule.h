// Schedules: which plan a user asked for (PlanSpec), the builder that turns forward /
// recompute / loss / backward / update decisions into ops with their buffers, a schedule as a
// list of those decisions, and the segmented (single-level checkpoint) schedules: none, sqrtn, every:K.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "planner/chain.h"
#include "planner/model_spec.h"
#include "planner/plan.h"

namespace egc {

enum class PlanKind { none, sqrtn, every, budget, chen_greedy, automatic };

struct PlanSpec {
  PlanKind kind = PlanKind::sqrtn;
  std::size_t every = 0;         // K of every:K
  std::size_t budget_bytes = 0;  // SIZE of budget:SIZE and chen-greedy:SIZE
  bool has_budget = false;       // chen-greedy:SIZE rather than chen-greedy
  bool derive = false;           // "+derive" after none, sqrtn or every:K: with_derived_outputs applied
  std::string text;              // as written by the user
};

// "none", "sqrtn", "every:K" (K >= 1), "budget:SIZE", "chen-greedy", "chen-greedy:SIZE", "auto"
// (SIZE as parse_size reads it); none, sqrtn and every:K may end in "+derive" (op-level
// recomputation, with_derived_outputs). Throws UsageError naming `flag` and listing every accepted plan.
PlanSpec parse_plan(std::string_view text, std::string_view flag = "--plan");

// Records ops in execution order and creates the buffers they touch. Every buffer instance is
// written once and lives until its last reader, so whatever a schedule does not recompute, it
// keeps: a schedule is fully described by the order of its forward, recompute and backward ops.
class ScheduleBuilder {
 public:
  ScheduleBuilder(const Chain& chain, const ModelSpec& model, const StepContext& context);

  // Runs `layer` forward from the latest instance of its input, making a new instance of its
  // output; with keep_tape, also of the tape its backward needs where that is not the output (a
  // GELU layer's pre-activation, a block's inner pre-activation and LayerNorm statistics).
  void forward(std::size_t layer, OpKind kind, bool keep_tape);
  // Op-level recomputation: re-derives `layer`'s output pointwise from the latest instance of its
  // kept pre-activation (an output_derivable layer only), making a new instance of the output;
  // later readers read that one, so the instance it replaces dies at its last reader before.
  // Throws std::logic_error where the layer is not derivable or its pre-activation is not kept.
  void derive(std::size_t layer);
  void loss();
  // Needs the latest instances of the layer's input, of what its derivative needs and of the
  // gradient of its output; throws std::logic_error naming what is missing.
  // With per-layer updates (StepContext::single_update false) it is followed by that layer's update.
  void backward(std::size_t layer);
  // The update of all parameters (single_update); nothing with per-layer updates.
  void update();
  // Copies the latest device instances of the layer's output and kept tape to new host buffers
  // (one offload op each); the device instances die once copied and the layer's tensors are
  // away: reading them before prefetch(layer) throws std::logic_error.
  void offload(std::size_t layer);
  // Copies the layer's offloaded tensors back into new device instances (one prefetch op each).
  void prefetch(std::size_t layer);

  // Room for `calls` more forward/recompute/loss/backward calls, so that a long schedule (millions
  // of ops at a long chain's smallest budget) does not move its ops and buffers as it grows.
  void reserve(std::size_t calls);

  // Whether backward(layer) could run now without recomputing anything.
  bool can_backward(std::size_t layer) const;
  // Whether derive(layer) could run now.
  bool can_derive(std::size_t layer) const;

  // Lifetimes, live bytes, arena offsets (unless skipped: all 0, arena_bytes = live_peak_bytes)
  // and totals; the builder is spent afterwards.
  Plan finish(std::string name, std::string description, Offsets offsets = Offsets::assign);

 private:
  BufferId add_buffer(std::string name, BufferKind kind, std::size_t bytes, bool persistent, int layer);
  BufferId add_op_buffer_for_layer(const char* prefix, std::size_t layer, BufferKind kind, std::size_t bytes,
                                   std::vector<int>& copies);
  void backward_block(std::size_t layer, BufferId gradients);
  Op& add_op(OpKind kind, int layer);
  void add_update_op(int layer, BufferId gradients);
  struct TensorSlot;  // one of a layer's kept tensors: output, pre or stats
  std::vector<TensorSlot> tensor_slots();
  void move_layer(std::size_t layer, OpKind kind);

  Plan plan_;
  std::vector<BufferId> output_;       // latest instance of each layer's output
  std::vector<BufferId> pre_;          // latest instance of each layer's kept pre-activation
  std::vector<BufferId> stats_;        // latest instance of each block's kept LayerNorm statistics
  std::vector<BufferId> grad_output_;  // gradient of each layer's output, once the loss exists
  std::vector<int> output_copies_, pre_copies_, stats_copies_, scratch_copies_;
  std::vector<BufferId> host_output_, host_pre_, host_stats_;  // the offloaded copies, while away
};

// One ScheduleBuilder decision. A schedule is its list of calls (the final update is implied).
struct ScheduleCall {
  OpKind kind = OpKind::forward;  // forward, recompute, loss, backward, derive, offload or prefetch
  std::size_t layer = 0;          // unused for loss
  bool keep_tape = false;          // forward/recompute: keep the tape (see ScheduleBuilder::forward)
};

// Replays `calls` into a ScheduleBuilder, adds the update and finishes the plan. Throws
// std::logic_error for a call sequence the builder rejects.
Plan build_schedule(const Chain& chain, const ModelSpec& model, const StepContext& context,
                    const std::vector<ScheduleCall>& calls, std::string name, std::string description,
                    Offsets offsets = Offsets::assign);

// The op-level variant of `calls`: before every call that reads an output_derivable layer's output
// through an instance that the call just before did not make, while that layer's pre-activation is
// kept, a derive of it; the older instance then dies at its last reader before (the next layer's
// forward or recompute). Never raises the activation peak; costs one pointwise op per derive.
std::vector<ScheduleCall> with_derived_outputs(const Chain& chain, const std::vector<ScheduleCall>& calls);

// Checkpoint sets for segmented schedules: the layers (of 0..n-2) whose outputs the first
// forward pass keeps. Layers after the last checkpoint form the final segment, kept whole.
std::vector<std::size_t> sqrtn_checkpoints(std::size_t layers);
std::vector<std::size_t> every_k_checkpoints(std::size_t layers, std::size_t k);
// none's: every layer but the last (every:1).
inline std::vector<std::size_t> none_checkpoints(std::size_t layers) { return every_k_checkpoints(layers, 1); }

// One forward pass keeping the checkpoints and the final segment; then, segment by segment
// from the last, recompute the segment's layers from its input checkpoint and run its backward.
std::vector<ScheduleCall> segmented_calls(const Chain& chain, const std::vector<std::size_t>& checkpoints);
Plan build_segmented_schedule(const Chain& chain, const ModelSpec& model, const StepContext& context,
                              const std::vector<std::size_t>& checkpoints, std::string name,
                              std::string description, Offsets offsets = Offsets::assign);

// What a schedule costs, measured without laying out its arena: how candidate plans compare.
struct ScheduleCost {
  std::size_t activation_peak_bytes = 0;
  std::size_t recompute_flops = 0;
};
// The least activation peak first, then the least recomputation.
bool less_peak(const ScheduleCost& a, const ScheduleCost& b);
ScheduleCost segmented_cost(const Chain& chain, const ModelSpec& model, const StepContext& context,
                            const std::vector<std::size_t>& checkpoints);

}  // namespace egc
