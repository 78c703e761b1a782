// Plan parsing, ScheduleBuilder, replaying a call list, and the segmented schedules (none, sqrtn, every:K).
#include "planner/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "planner/copy_ops.h"
#include "planner/errors.h"
#include "planner/units.h"

namespace egc {

namespace {

constexpr const char* kAcceptedPlans =
    "none, sqrtn, every:K with K >= 1, budget:SIZE, chen-greedy, chen-greedy:SIZE, auto; SIZE in bytes or "
    "with a unit, such as 512MiB; none, sqrtn and every:K with +derive after them";

// The SIZE of "<prefix>SIZE"; a bad size names the flag and lists every accepted plan.
std::size_t plan_size(std::string_view text, std::size_t prefix, std::string_view flag) {
  try {
    return parse_size(text.substr(prefix), std::string(flag) + " " + std::string(text.substr(0, prefix)) + "SIZE");
  } catch (const UsageError& e) {
    throw UsageError(std::string(e.what()) + "; accepted plans: " + kAcceptedPlans);
  }
}

}  // namespace

PlanSpec parse_plan(std::string_view text, std::string_view flag) {
  constexpr std::string_view kDerive = "+derive";
  if (text.size() > kDerive.size() && text.substr(text.size() - kDerive.size()) == kDerive) {
    PlanSpec spec = parse_plan(text.substr(0, text.size() - kDerive.size()), flag);
    if (spec.derive || (spec.kind != PlanKind::none && spec.kind != PlanKind::sqrtn && spec.kind != PlanKind::every))
      throw UsageError(std::string(flag) + ": '" + std::string(text) +
                       "': +derive follows none, sqrtn or every:K only (accepted: " + kAcceptedPlans + ")");
    spec.derive = true;
    spec.text = std::string(text);
    return spec;
  }
  PlanSpec spec;
  spec.text = std::string(text);
  auto starts_with = [&](std::string_view prefix) { return text.rfind(prefix, 0) == 0; };
  if (text == "none") { spec.kind = PlanKind::none; return spec; }
  if (text == "sqrtn") { spec.kind = PlanKind::sqrtn; return spec; }
  if (text == "auto") { spec.kind = PlanKind::automatic; return spec; }
  if (text == "chen-greedy") { spec.kind = PlanKind::chen_greedy; return spec; }
  if (starts_with("every:")) {
    spec.kind = PlanKind::every;
    try {
      spec.every = parse_positive(text.substr(6), std::string(flag) + " every:K (K)");
    } catch (const UsageError& e) {
      throw UsageError(std::string(e.what()) + "; accepted plans: " + kAcceptedPlans);
    }
    return spec;
  }
  if (starts_with("budget:")) {
    spec.kind = PlanKind::budget;
    spec.budget_bytes = plan_size(text, 7, flag);
    spec.has_budget = true;
    return spec;
  }
  if (starts_with("chen-greedy:")) {
    spec.kind = PlanKind::chen_greedy;
    spec.budget_bytes = plan_size(text, 12, flag);
    spec.has_budget = true;
    return spec;
  }
  throw UsageError(std::string(flag) + ": unknown plan '" + std::string(text) + "' (accepted: " + kAcceptedPlans + ")");
}

ScheduleBuilder::ScheduleBuilder(const Chain& chain, const ModelSpec& model, const StepContext& context)
    : output_(chain.size(), kNoBuffer),
      pre_(chain.size(), kNoBuffer),
      stats_(chain.size(), kNoBuffer),
      grad_output_(chain.size(), kNoBuffer),
      output_copies_(chain.size(), 0),
      pre_copies_(chain.size(), 0),
      stats_copies_(chain.size(), 0),
      scratch_copies_(chain.size(), 0),
      host_output_(chain.size(), kNoBuffer),
      host_pre_(chain.size(), kNoBuffer),
      host_stats_(chain.size(), kNoBuffer) {
  plan_.model = model;
  plan_.context = context;
  plan_.chain = chain;
  const std::size_t param_bytes = checked_mul(chain.param_count, kFloatBytes, "parameter bytes");
  StepBuffers& s = plan_.step;
  s.params = add_buffer("params", BufferKind::parameters, param_bytes, true, -1);
  if (context.single_update) s.grads = add_buffer("grads", BufferKind::gradients, param_bytes, true, -1);
  if (model.optimizer == Optimizer::sgd && model.sgd_momentum)
    s.velocity = add_buffer("optimizer.velocity", BufferKind::optimizer_state, param_bytes, true, -1);
  if (model.optimizer == Optimizer::adam) {
    s.adam_m = add_buffer("optimizer.adam_m", BufferKind::optimizer_state, param_bytes, true, -1);
    s.adam_v = add_buffer("optimizer.adam_v", BufferKind::optimizer_state, param_bytes, true, -1);
  }
  if (context.dataset_rows > 0) {
    s.dataset_inputs = add_buffer(
        "dataset.inputs", BufferKind::data,
        checked_mul(checked_mul(context.dataset_rows, chain.in_features, "dataset size"), kFloatBytes,
                    "dataset bytes"),
        true, -1);
    s.dataset_targets = add_buffer(
        "dataset.targets", BufferKind::data,
        checked_mul(checked_mul(context.dataset_rows, chain.target_columns, "dataset size"), kFloatBytes,
                    "dataset bytes"),
        true, -1);
  }
  s.batch_indices = add_buffer("batch.indices", BufferKind::data, chain.batch * 4, true, -1);
  s.batch_inputs = add_buffer("batch.inputs", BufferKind::data,
                              checked_mul(chain.batch * chain.in_features, kFloatBytes, "batch bytes"),
                              true, -1);
  s.batch_targets = add_buffer("batch.targets", BufferKind::data,
                               checked_mul(chain.batch * chain.target_columns, kFloatBytes, "batch bytes"),
                               true, -1);
  // Cross-entropy also counts the batch's correct predictions there (a uint32 after the loss).
  s.loss = add_buffer("loss", BufferKind::workspace, chain.loss == LossKind::cross_entropy ? 2 * kFloatBytes : kFloatBytes,
                      true, -1);
  if (context.workspace_bytes > 0)
    s.workspace = add_buffer("workspace", BufferKind::workspace, context.workspace_bytes, true, -1);
}

BufferId ScheduleBuilder::add_buffer(std::string name, BufferKind kind, std::size_t bytes, bool persistent,
                                     int layer) {
  Buffer buffer;
  buffer.name = std::move(name);
  buffer.kind = kind;
  buffer.bytes = bytes;
  buffer.footprint = footprint_of(bytes);
  buffer.persistent = persistent;
  buffer.layer = layer;
  plan_.buffers.push_back(std::move(buffer));
  return plan_.buffers.size() - 1;
}

BufferId ScheduleBuilder::add_op_buffer_for_layer(const char* prefix, std::size_t layer, BufferKind kind,
                                                  std::size_t bytes, std::vector<int>& copies) {
  std::string name = std::string(prefix) + "." + std::to_string(layer);
  if (copies[layer] > 0) name += ".r" + std::to_string(copies[layer]);
  ++copies[layer];
  return add_buffer(std::move(name), kind, bytes, false, static_cast<int>(layer));
}

Op& ScheduleBuilder::add_op(OpKind kind, int layer) {
  Op op;
  op.kind = kind;
  op.layer = layer;
  plan_.ops.push_back(std::move(op));
  return plan_.ops.back();
}

void ScheduleBuilder::forward(std::size_t layer, OpKind kind, bool keep_tape) {
  if (kind != OpKind::forward && kind != OpKind::recompute)
    throw std::logic_error("ScheduleBuilder::forward: kind must be forward or recompute");
  if (layer >= plan_.chain.size()) throw std::logic_error("ScheduleBuilder::forward: no such layer");
  const BufferId input = layer == 0 ? plan_.step.batch_inputs : output_[layer - 1];
  if (input == kNoBuffer)
    throw std::logic_error("forward of layer " + std::to_string(layer) + " before its input exists");
  const Layer& info = plan_.chain.layers[layer];
  const bool block = info.kind == UnitKind::residual_block;
  const bool keep = keep_tape && saved_for_backward(info) == SavedForBackward::pre_activation;
  const BufferId output = add_op_buffer_for_layer("act", layer, BufferKind::activations, info.output_bytes, output_copies_);
  const BufferId pre = keep ? add_op_buffer_for_layer("pre", layer, BufferKind::activations,
                                                      block ? info.inner_bytes : info.output_bytes, pre_copies_)
                            : kNoBuffer;
  const BufferId stats = keep && info.norm ? add_op_buffer_for_layer("stats", layer, BufferKind::activations,
                                                                     info.stats_bytes, stats_copies_)
                                           : kNoBuffer;
  // A block's inner activation exists only inside its forward: the first GEMM's output, the
  // activation (and dropout) in place, the second GEMM's input.
  const BufferId scratch = block ? add_op_buffer_for_layer("inner", layer, BufferKind::activations, info.inner_bytes,
                                                           scratch_copies_)
                                 : kNoBuffer;
  Op& op = add_op(kind, static_cast<int>(layer));
  op.input = input;
  op.output = output;
  op.pre = pre;
  op.stats = stats;
  op.scratch = scratch;
  op.reads = {plan_.step.params, input};
  op.writes = {output};
  for (BufferId id : {pre, stats, scratch, plan_.step.workspace})
    if (id != kNoBuffer) op.writes.push_back(id);
  output_[layer] = output;
  if (pre != kNoBuffer) pre_[layer] = pre;
  if (stats != kNoBuffer) stats_[layer] = stats;
}

bool ScheduleBuilder::can_derive(std::size_t layer) const {
  return layer < plan_.chain.size() && output_derivable(plan_.chain.layers[layer]) && pre_[layer] != kNoBuffer;
}

void ScheduleBuilder::derive(std::size_t layer) {
  if (!can_derive(layer))
    throw std::logic_error("derive of layer " + std::to_string(layer) +
                           ": not a layer whose output is a pointwise function of a kept pre-activation");
  const BufferId output = add_op_buffer_for_layer("act", layer, BufferKind::activations,
                                                  plan_.chain.layers[layer].output_bytes, output_copies_);
  Op& op = add_op(OpKind::derive, static_cast<int>(layer));
  op.input = pre_[layer];
  op.output = output;
  op.reads = {pre_[layer]};
  op.writes = {output};
  output_[layer] = output;
}

void ScheduleBuilder::loss() {
  const std::size_t last = plan_.chain.size() - 1;
  if (output_[last] == kNoBuffer) throw std::logic_error("loss before the forward pass reached the output");
  const BufferId grad = add_buffer("grad_act." + std::to_string(last), BufferKind::activation_gradients,
                                   plan_.chain.layers[last].output_bytes, false, static_cast<int>(last));
  Op& op = add_op(OpKind::loss, -1);
  op.input = output_[last];
  op.output = grad;
  op.reads = {output_[last], plan_.step.batch_targets};
  op.writes = {grad, plan_.step.loss};
  if (plan_.step.workspace != kNoBuffer) op.writes.push_back(plan_.step.workspace);
  grad_output_[last] = grad;
}

bool ScheduleBuilder::can_backward(std::size_t layer) const {
  if (grad_output_[layer] == kNoBuffer) return false;
  if (layer > 0 && output_[layer - 1] == kNoBuffer) return false;
  const Layer& info = plan_.chain.layers[layer];
  switch (saved_for_backward(info)) {
    case SavedForBackward::nothing: return true;
    case SavedForBackward::output: return output_[layer] != kNoBuffer;
    case SavedForBackward::pre_activation: return pre_[layer] != kNoBuffer && (!info.norm || stats_[layer] != kNoBuffer);
  }
  return false;
}

void ScheduleBuilder::backward(std::size_t layer) {
  if (!can_backward(layer))
    throw std::logic_error("backward of layer " + std::to_string(layer) +
                           " without its input, saved tensor or output gradient");
  const Layer& info = plan_.chain.layers[layer];
  BufferId saved = kNoBuffer;
  switch (saved_for_backward(info)) {
    case SavedForBackward::nothing: break;
    case SavedForBackward::output: saved = output_[layer]; break;
    case SavedForBackward::pre_activation: saved = pre_[layer]; break;
  }
  const BufferId gradients =
      plan_.context.single_update
          ? plan_.step.grads
          : add_buffer("grads." + std::to_string(layer), BufferKind::gradients,
                       checked_mul(info.param_count(), kFloatBytes, "gradient bytes"), false, static_cast<int>(layer));
  if (info.kind == UnitKind::residual_block) {
    backward_block(layer, gradients);
    return;
  }
  BufferId grad_input = kNoBuffer;
  if (layer > 0)
    grad_input = add_buffer("grad_act." + std::to_string(layer - 1), BufferKind::activation_gradients,
                            plan_.chain.layers[layer - 1].output_bytes, false, static_cast<int>(layer - 1));
  Op& op = add_op(OpKind::backward, static_cast<int>(layer));
  op.input = layer == 0 ? plan_.step.batch_inputs : output_[layer - 1];
  op.saved = saved;
  op.grad_output = grad_output_[layer];
  op.grad_input = grad_input;
  op.gradients = gradients;
  op.param_first = info.param_offset;
  op.param_count = info.param_count();
  op.gradient_first = plan_.context.single_update ? info.param_offset : 0;
  op.reads = {plan_.step.params, op.input, op.grad_output};
  if (saved != kNoBuffer) op.reads.push_back(saved);
  op.writes = {op.grad_output, gradients};
  if (grad_input != kNoBuffer) op.writes.push_back(grad_input);
  if (plan_.step.workspace != kNoBuffer) op.writes.push_back(plan_.step.workspace);
  if (layer > 0) grad_output_[layer - 1] = grad_input;
  // Nothing later in the step reads this layer's parameters: update them now.
  if (!plan_.context.single_update) add_update_op(static_cast<int>(layer), gradients);
}

// A block's backward adds its input gradient to its output gradient in place (the residual's
// gradient is the output's): no new gradient buffer, the next backward reads the same one.
void ScheduleBuilder::backward_block(std::size_t layer, BufferId gradients) {
  if (layer == 0) throw std::logic_error("a residual block is never the first unit (the input projection is)");
  const Layer& info = plan_.chain.layers[layer];
  const BufferId scratch = add_buffer("grad_inner." + std::to_string(layer), BufferKind::activation_gradients,
                                      info.inner_bytes, false, static_cast<int>(layer));
  const BufferId scratch_outer =
      info.norm ? add_buffer("grad_norm." + std::to_string(layer), BufferKind::activation_gradients, info.output_bytes,
                             false, static_cast<int>(layer))
                : kNoBuffer;
  Op& op = add_op(OpKind::backward, static_cast<int>(layer));
  op.input = output_[layer - 1];
  op.saved = pre_[layer];
  op.stats = info.norm ? stats_[layer] : kNoBuffer;
  op.grad_output = op.grad_input = grad_output_[layer];
  op.scratch = scratch;
  op.scratch_outer = scratch_outer;
  op.gradients = gradients;
  op.param_first = info.param_offset;
  op.param_count = info.param_count();
  op.gradient_first = plan_.context.single_update ? info.param_offset : 0;
  op.reads = {plan_.step.params, op.input, op.grad_output, op.saved};
  if (op.stats != kNoBuffer) op.reads.push_back(op.stats);
  op.writes = {op.grad_output, gradients, scratch};
  for (BufferId id : {scratch_outer, plan_.step.workspace})
    if (id != kNoBuffer) op.writes.push_back(id);
  grad_output_[layer - 1] = grad_output_[layer];
  if (!plan_.context.single_update) add_update_op(static_cast<int>(layer), gradients);
}

void ScheduleBuilder::update() {
  if (plan_.context.single_update) add_update_op(-1, plan_.step.grads);
}

void ScheduleBuilder::add_update_op(int layer, BufferId gradients) {
  const StepBuffers& s = plan_.step;
  Op& op = add_op(OpKind::update, layer);
  op.gradients = gradients;
  // One layer's weight and bias are contiguous in every flat buffer; layer -1 is all of them.
  op.param_first = layer < 0 ? 0 : plan_.chain.layers[static_cast<std::size_t>(layer)].param_offset;
  op.param_count = layer < 0 ? plan_.chain.param_count : plan_.chain.layers[static_cast<std::size_t>(layer)].param_count();
  op.gradient_first = 0;
  op.reads = {gradients, s.params};
  op.writes = {s.params};
  for (BufferId state : {s.velocity, s.adam_m, s.adam_v}) {
    if (state == kNoBuffer) continue;
    op.reads.push_back(state);
    op.writes.push_back(state);
  }
}

struct ScheduleBuilder::TensorSlot {
  const char* prefix;  // the device instances' name, as forward() names them
  std::vector<BufferId>& device;
  std::vector<BufferId>& host;
  std::vector<int>& copies;
};

std::vector<ScheduleBuilder::TensorSlot> ScheduleBuilder::tensor_slots() {
  return {{"act", output_, host_output_, output_copies_},
          {"pre", pre_, host_pre_, pre_copies_},
          {"stats", stats_, host_stats_, stats_copies_}};
}

void ScheduleBuilder::offload(std::size_t layer) { move_layer(layer, OpKind::offload); }
void ScheduleBuilder::prefetch(std::size_t layer) { move_layer(layer, OpKind::prefetch); }

// One copy op per tensor of the layer on the side it leaves: to a new host buffer (offload) or
// a new device instance (prefetch); the tensor is then only on the other side.
void ScheduleBuilder::move_layer(std::size_t layer, OpKind kind) {
  if (layer >= plan_.chain.size()) throw std::logic_error("ScheduleBuilder: no layer " + std::to_string(layer));
  const bool to_host = kind == OpKind::offload;
  bool moved = false;
  for (TensorSlot& slot : tensor_slots()) {
    std::vector<BufferId>& from = to_host ? slot.device : slot.host;
    std::vector<BufferId>& to = to_host ? slot.host : slot.device;
    const BufferId source = from[layer];
    if (source == kNoBuffer) continue;
    const Buffer tensor = plan_.buffers[source];  // a copy: adding a buffer moves the others
    const BufferId destination =
        to_host ? add_buffer("host." + tensor.name, tensor.kind, tensor.bytes, false, static_cast<int>(layer))
                : add_op_buffer_for_layer(slot.prefix, layer, tensor.kind, tensor.bytes, slot.copies);
    plan_.buffers[destination].host = to_host;
    Op& op = add_op(kind, static_cast<int>(layer));
    op.input = source;
    op.output = destination;
    op.reads = {source};
    op.writes = {destination};
    to[layer] = destination;
    from[layer] = kNoBuffer;
    moved = true;
  }
  if (!moved)
    throw std::logic_error(std::string(to_string(kind)) + " of layer " + std::to_string(layer) + " with nothing to move");
}

Plan ScheduleBuilder::finish(std::string name, std::string description, Offsets offsets) {
  plan_.name = std::move(name);
  plan_.description = std::move(description);
  link_copy_events(plan_);
  finalize_plan(plan_, offsets);
  return std::move(plan_);
}

void ScheduleBuilder::reserve(std::size_t calls) {
  // A backward adds its layer's update op; each call makes at most two buffers besides a
  // block's scratch (an output and its tape, or an input gradient and parameter gradients).
  plan_.ops.reserve(plan_.ops.size() + 2 * calls + 1);
  plan_.buffers.reserve(plan_.buffers.size() + 3 * calls);
}

Plan build_schedule(const Chain& chain, const ModelSpec& model, const StepContext& context,
                    const std::vector<ScheduleCall>& calls, std::string name, std::string description,
                    Offsets offsets) {
  ScheduleBuilder builder(chain, model, context);
  builder.reserve(calls.size());
  for (const ScheduleCall& call : calls) {
    switch (call.kind) {
      case OpKind::forward:
      case OpKind::recompute: builder.forward(call.layer, call.kind, call.keep_tape); break;
      case OpKind::loss: builder.loss(); break;
      case OpKind::backward: builder.backward(call.layer); break;
      case OpKind::derive: builder.derive(call.layer); break;
      case OpKind::offload: builder.offload(call.layer); break;
      case OpKind::prefetch: builder.prefetch(call.layer); break;
      case OpKind::update: throw std::logic_error("build_schedule: the update is added after the calls");
    }
  }
  builder.update();
  return builder.finish(std::move(name), std::move(description), offsets);
}

std::vector<ScheduleCall> with_derived_outputs(const Chain& chain, const std::vector<ScheduleCall>& calls) {
  constexpr std::size_t kNever = static_cast<std::size_t>(-1);
  const std::size_t n = chain.size();
  std::vector<std::size_t> made_at(n, kNever);  // where in `out` the latest instance of each output was made
  std::vector<bool> pre_kept(n, false);
  std::vector<ScheduleCall> out;
  for (const ScheduleCall& call : calls) {
    // The output this call reads: its input's (forward, recompute, backward), the prediction (loss).
    const bool reads_input = call.kind != OpKind::loss && call.kind != OpKind::derive && call.layer > 0;
    const std::size_t read = call.kind == OpKind::loss ? n - 1 : reads_input ? call.layer - 1 : kNever;
    if (read != kNever && output_derivable(chain.layers[read]) && pre_kept[read] && made_at[read] + 1 != out.size()) {
      out.push_back({OpKind::derive, read, false});
      made_at[read] = out.size() - 1;
    }
    out.push_back(call);
    if (call.kind == OpKind::forward || call.kind == OpKind::recompute || call.kind == OpKind::derive) {
      made_at[call.layer] = out.size() - 1;
      if (call.keep_tape) pre_kept[call.layer] = true;
    }
  }
  return out;
}

std::vector<std::size_t> every_k_checkpoints(std::size_t layers, std::size_t k) {
  std::vector<std::size_t> checkpoints;
  for (std::size_t layer = k - 1; layer + 1 < layers; layer += k) checkpoints.push_back(layer);
  return checkpoints;
}

std::vector<std::size_t> sqrtn_checkpoints(std::size_t layers) {
  // Chen et al.: about sqrt(n) segments of about sqrt(n) layers; lengths differ by at most one,
  // the longer ones first, so the final segment (kept whole by the forward pass) is a short one.
  const std::size_t segments =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(layers)))));
  std::vector<std::size_t> checkpoints;
  std::size_t end = 0;
  for (std::size_t segment = 0; segment + 1 < segments; ++segment) {
    end += layers / segments + (segment < layers % segments ? 1 : 0);
    checkpoints.push_back(end - 1);
  }
  return checkpoints;
}

std::vector<ScheduleCall> segmented_calls(const Chain& chain, const std::vector<std::size_t>& checkpoints) {
  const std::size_t n = chain.size();
  std::vector<bool> is_checkpoint(n, false);
  for (std::size_t layer : checkpoints) {
    if (layer + 1 >= n) throw std::logic_error("checkpoint beyond the last hidden layer");
    is_checkpoint[layer] = true;
  }
  const std::size_t final_segment_start = checkpoints.empty() ? 0 : checkpoints.back() + 1;

  std::vector<ScheduleCall> calls;
  for (std::size_t layer = 0; layer < n; ++layer)
    calls.push_back({OpKind::forward, layer, is_checkpoint[layer] || layer >= final_segment_start});
  calls.push_back({OpKind::loss, 0, false});
  for (std::size_t layer = n; layer-- > final_segment_start;) calls.push_back({OpKind::backward, layer, false});
  for (std::size_t c = checkpoints.size(); c-- > 0;) {
    const std::size_t end = checkpoints[c];  // the segment's last layer, kept by the first pass
    const std::size_t start = c == 0 ? 0 : checkpoints[c - 1] + 1;
    for (std::size_t layer = start; layer < end; ++layer) calls.push_back({OpKind::recompute, layer, true});
    for (std::size_t layer = end + 1; layer-- > start;) calls.push_back({OpKind::backward, layer, false});
  }
  return calls;
}

Plan build_segmented_schedule(const Chain& chain, const ModelSpec& model, const StepContext& context,
                              const std::vector<std::size_t>& checkpoints, std::string name,
                              std::string description, Offsets offsets) {
  return build_schedule(chain, model, context, segmented_calls(chain, checkpoints), std::move(name),
                        std::move(description), offsets);
}

bool less_peak(const ScheduleCost& a, const ScheduleCost& b) {
  return a.activation_peak_bytes != b.activation_peak_bytes ? a.activation_peak_bytes < b.activation_peak_bytes
                                                            : a.recompute_flops < b.recompute_flops;
}

ScheduleCost segmented_cost(const Chain& chain, const ModelSpec& model, const StepContext& context,
                            const std::vector<std::size_t>& checkpoints) {
  const Plan plan = build_segmented_schedule(chain, model, context, checkpoints, "", "", Offsets::skip);
  return {plan.activation_peak_bytes, plan.recompute_flops};
}

}  // namespace egc
