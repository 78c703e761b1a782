// Text and JSON renderings of a Plan.
#include "planner/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "planner/errors.h"
#include "planner/liveness.h"
#include "planner/units.h"

namespace egc {
namespace {

constexpr std::size_t kBarWidth = 40;

}  // namespace

ScheduleDetail parse_schedule_detail(std::string_view text, std::string_view flag) {
  return parse_name(kScheduleDetailNames, text, flag, "value");
}

std::string format_layer_ranges(const std::vector<std::size_t>& layers) {
  if (layers.empty()) return "-";
  std::vector<std::size_t> sorted = layers;
  std::sort(sorted.begin(), sorted.end());
  std::string text;
  std::size_t i = 0;
  while (i < sorted.size()) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!text.empty()) text += ",";
    text += std::to_string(sorted[i]);
    if (j > i) text += "-" + std::to_string(sorted[j]);
    i = j + 1;
  }
  return text;
}

std::string format_bar(std::size_t base, std::size_t part, std::size_t max, std::size_t width) {
  auto cells = [&](std::size_t value) {
    if (max == 0) return std::size_t{0};
    return std::min(width, static_cast<std::size_t>(static_cast<long double>(value) * width / max + 0.5L));
  };
  const std::size_t base_cells = cells(base);
  return std::string(base_cells, '.') + std::string(cells(base + part) - base_cells, '#');
}

std::string format_breakdown(const Plan& plan) {
  std::ostringstream out;
  out << "  " << pad_right("kind", 22) << pad_left("buffers", 8) << pad_left("total", 14)
      << pad_left("peak live", 14) << "\n";
  for (std::size_t kind = 0; kind < kBufferKindCount; ++kind) {
    const KindTotals& totals = plan.breakdown[kind];
    if (totals.buffers == 0) continue;
    out << "  " << pad_right(to_string(static_cast<BufferKind>(kind)), 22)
        << pad_left(std::to_string(totals.buffers), 8) << pad_left(format_bytes(totals.total_bytes), 14)
        << pad_left(format_bytes(totals.peak_bytes), 14) << "\n";
  }
  return out.str();
}

// Per op, the live bytes of activations and activation gradients (the '#' part of a bar).
static std::vector<std::size_t> activation_bytes_per_op(const Plan& plan) {
  return live_bytes_per_op(plan, [](const Buffer& buffer) { return counts_as_activation(buffer.kind); });
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, ms < 10 ? "%.3f ms" : "%.1f ms", ms);
  return text;
}

namespace {
// For a copy op: its buffers and the compute ops ordered around it.
std::string copy_events(const Plan& plan, std::size_t index) {
  const Op& op = plan.ops[index];
  if (!is_copy(op.kind)) return "";
  auto op_name = [](std::size_t i) { return i == kNoOp ? std::string("-") : "op " + std::to_string(i); };
  return "  " + plan.buffers[op.input].name + " -> " + plan.buffers[op.output].name + "; after " +
         op_name(op.wait_for_op) + ", before " + (op.waited_by_op == kNoOp ? "the step's end" : op_name(op.waited_by_op));
}

double predicted_ms(const Plan& plan, std::size_t begin, std::size_t end) {
  double ms = 0;
  for (std::size_t i = begin; i < end; ++i) ms += plan.ops[i].predicted_ms;
  return ms;
}

// "; derive 2,4-5", with the count of derive ops where a layer is derived more than once.
std::string derive_detail(std::vector<std::size_t> layers) {
  if (layers.empty()) return "";
  const std::size_t ops = layers.size();
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return "; derive " + format_layer_ranges(layers) + (ops > layers.size() ? " (" + std::to_string(ops) + " ops)" : "");
}

}  // namespace

std::string format_segments(const Plan& plan) {
  std::ostringstream out;
  const std::size_t peak = plan.live_peak_bytes;
  const std::vector<std::size_t> activations = activation_bytes_per_op(plan);
  // One line per phase (ops [begin, end)), showing the phase's op with the most live bytes and
  // the phase's predicted time.
  auto line = [&](const std::string& label, const std::string& detail, std::size_t op, std::size_t begin,
                  std::size_t end) {
    const std::size_t live = plan.live_bytes[op], part = activations[op];
    out << "  " << pad_right(label, 12) << pad_right(detail, 46) << pad_left(format_bytes(live), 12)
        << pad_left(format_bytes(part), 12) << pad_left(format_ms(predicted_ms(plan, begin, end)), 12) << "  "
        << format_bar(live - part, part, peak, kBarWidth) << "\n";
  };
  out << "  " << pad_right("phase", 12) << pad_right("layers", 46) << pad_left("peak live", 12)
      << pad_left("activations", 12) << pad_left("predicted", 12) << "\n";
  auto fuller = [&](std::size_t a, std::size_t b) { return plan.live_bytes[b] > plan.live_bytes[a] ? b : a; };
  std::size_t i = 0;
  std::vector<std::size_t> forward;
  std::size_t fullest = 0;
  // Copies belong to the phase they are issued in.
  for (; i < plan.ops.size() && (plan.ops[i].kind == OpKind::forward || is_copy(plan.ops[i].kind)); ++i) {
    if (plan.ops[i].kind == OpKind::forward) forward.push_back(static_cast<std::size_t>(plan.ops[i].layer));
    fullest = fuller(fullest, i);
  }
  line("forward", "layers " + format_layer_ranges(forward) + "; keeps " + format_layer_ranges(plan.checkpoints),
       fullest, 0, i);
  std::size_t segment = 0;
  while (i < plan.ops.size()) {
    const Op& op = plan.ops[i];
    if (op.kind == OpKind::loss || op.kind == OpKind::update) {
      line(to_string(op.kind), "", i, i, i + 1);
      ++i;
      continue;
    }
    const std::size_t begin = i;
    std::vector<std::size_t> recomputed, backward, derived;
    fullest = i;
    auto is = [&](OpKind kind) { return i < plan.ops.size() && plan.ops[i].kind == kind; };
    auto copy = [&] { return i < plan.ops.size() && is_copy(plan.ops[i].kind); };  // with the phase it is issued in
    // A derive before a backward belongs to it; one before a recompute run starts the next segment.
    auto derive_before_backward = [&] {
      std::size_t j = i;
      while (j < plan.ops.size() && plan.ops[j].kind == OpKind::derive) ++j;
      return j > i && j < plan.ops.size() && plan.ops[j].kind == OpKind::backward;
    };
    // Derive ops go with the recompute run or the backward op they precede.
    for (; is(OpKind::recompute) || is(OpKind::derive) || copy(); ++i) {
      if (copy()) {
        fullest = fuller(fullest, i);
        continue;
      }
      (is(OpKind::derive) ? derived : recomputed).push_back(static_cast<std::size_t>(plan.ops[i].layer));
      fullest = fuller(fullest, i);
    }
    // Backward ops, each with the update of its layer where the plan updates per layer.
    for (; is(OpKind::backward) || derive_before_backward() || copy() || (is(OpKind::update) && plan.ops[i].layer >= 0);
         ++i) {
      if (is(OpKind::backward)) backward.push_back(static_cast<std::size_t>(plan.ops[i].layer));
      if (is(OpKind::derive)) derived.push_back(static_cast<std::size_t>(plan.ops[i].layer));
      fullest = fuller(fullest, i);
    }
    for (; is(OpKind::forward); ++i) fullest = fuller(fullest, i);
    line("segment " + std::to_string(++segment),
         "backward " + format_layer_ranges(backward) + "; recompute " + format_layer_ranges(recomputed) +
             derive_detail(derived),
         fullest, begin, i);
  }
  return out.str();
}

std::string format_ops(const Plan& plan) {
  std::ostringstream out;
  const std::size_t peak = plan.live_peak_bytes;
  const std::vector<std::size_t> activations = activation_bytes_per_op(plan);
  out << "  " << pad_left("op", 6) << "  " << pad_right("kind", 10) << pad_left("layer", 6) << pad_left("live", 14)
      << pad_left("activations", 14) << pad_left("predicted", 12) << "\n";
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const Op& op = plan.ops[i];
    const std::size_t live = plan.live_bytes[i], part = activations[i];
    out << "  " << pad_left(std::to_string(i), 6) << "  " << pad_right(to_string(op.kind), 10)
        << pad_left(op.layer < 0 ? "-" : std::to_string(op.layer), 6) << pad_left(format_bytes(live), 14)
        << pad_left(format_bytes(part), 14) << pad_left(format_ms(op.predicted_ms), 12) << "  "
        << format_bar(live - part, part, peak, kBarWidth)
        << (live == peak ? "  <- peak" : "") << copy_events(plan, i) << "\n";
  }
  return out.str();
}

namespace {

std::vector<std::size_t> offloaded_layers(const Plan& plan) {
  std::vector<std::size_t> layers;
  for (const Op& op : plan.ops)
    if (op.kind == OpKind::offload && (layers.empty() || layers.back() != static_cast<std::size_t>(op.layer)))
      layers.push_back(static_cast<std::size_t>(op.layer));
  return layers;
}

}  // namespace

std::string format_schedule(const Plan& plan, ScheduleDetail detail) {
  std::ostringstream out;
  out << "Memory plan '" << plan.name << "': " << plan.description << "\n";
  out << "  " << plan.chain.size() << " layers, batch " << plan.chain.batch << ", "
      << plan.ops.size() << " ops, " << plan.buffers.size() << " buffers; checkpoints "
      << format_layer_ranges(plan.checkpoints) << "; " << plan.recomputed_forwards
      << " recomputed layer forwards (" << format_percent(plan.recompute_flops, plan.forward_flops)
      << " of a forward pass)";
  if (plan.derived_outputs > 0) out << "; " << plan.derived_outputs << " outputs re-derived from pre-activations";
  if (plan.dropped_checkpoints > 0)
    out << "; " << plan.dropped_checkpoints << (plan.dropped_checkpoints == 1 ? " checkpoint" : " checkpoints")
        << " dropped and re-made from earlier ones";
  out << "\n\n";
  out << format_breakdown(plan) << "\n";
  if (detail == ScheduleDetail::summary) out << format_segments(plan) << "\n";
  if (detail == ScheduleDetail::full) out << format_ops(plan) << "\n";
  out << "  activation peak " << format_bytes(plan.activation_peak_bytes) << " (" << plan.activation_peak_bytes
      << " B)\n";
  out << "  arena           " << format_bytes(plan.arena_bytes) << " (" << plan.arena_bytes << " B); lower bound "
      << format_bytes(plan.live_peak_bytes);
  if (plan.arena_bytes == plan.live_peak_bytes)
    out << ", reached";
  else
    out << ", gap " << format_bytes(plan.arena_bytes - plan.live_peak_bytes) << " ("
        << format_percent(plan.arena_bytes - plan.live_peak_bytes, plan.live_peak_bytes) << ")";
  out << " [" << plan.layout_strategy << "]\n";
  if (plan.host_arena_bytes > 0)
    out << "  host arena      " << format_bytes(plan.host_arena_bytes) << " (" << plan.host_arena_bytes
        << " B): the offloaded copies of layers " << format_layer_ranges(offloaded_layers(plan)) << "\n";
  out << "  step time       " << format_ms(plan.predicted_step_ms) << " predicted (profile: " << plan.profile_name
      << ")\n";
  if (plan.predicted_copy_ms > 0)
    out << "  copy stream     " << format_ms(plan.predicted_copy_ms) << " of offloads and prefetches, "
        << format_ms(plan.predicted_stall_ms) << " of it exposed (compute waiting)\n";
  return out.str();
}

nlohmann::json model_to_json(const ModelSpec& model) {
  nlohmann::json json = {
      {"in_features", model.in_features},
      {"out_features", model.out_features},
      {"hidden_widths", model.hidden_widths},
      {"activation", to_string(model.activation)},
      {"batch", model.batch},
      {"optimizer", to_string(model.optimizer)},
      {"sgd_momentum", model.sgd_momentum},
  };
  // What a plain MSE chain without dropout has always written stays as it was (files compared
  // byte for byte across versions); the newer settings appear where they are not the default.
  if (model.block == BlockKind::residual) {
    json["block"] = to_string(model.block);
    json["norm"] = to_string(model.norm);
    json["expand"] = model.expand;
  }
  if (model.dropout > 0) json["dropout"] = model.dropout;
  if (model.loss == LossKind::cross_entropy) {
    json["loss"] = to_string(model.loss);
    json["classes"] = model.out_features;
  }
  return json;
}

nlohmann::json plan_to_json(const Plan& plan) {
  nlohmann::json breakdown = nlohmann::json::object();
  for (std::size_t kind = 0; kind < kBufferKindCount; ++kind) {
    const KindTotals& totals = plan.breakdown[kind];
    breakdown[to_string(static_cast<BufferKind>(kind))] = {
        {"buffers", totals.buffers}, {"total_bytes", totals.total_bytes}, {"peak_bytes", totals.peak_bytes}};
  }
  nlohmann::json buffers = nlohmann::json::array();
  for (const Buffer& buffer : plan.buffers) {
    buffers.push_back({{"name", buffer.name},
                       {"kind", to_string(buffer.kind)},
                       {"bytes", buffer.bytes},
                       {"footprint", buffer.footprint},
                       {"offset", buffer.offset},
                       {"first_op", buffer.first_op},
                       {"last_op", buffer.last_op},
                       {"persistent", buffer.persistent},
                       {"layer", buffer.layer}});
    if (buffer.host) buffers.back()["host"] = true;
  }
  nlohmann::json ops = nlohmann::json::array();
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const Op& op = plan.ops[i];
    ops.push_back({{"index", i},
                   {"kind", to_string(op.kind)},
                   {"layer", op.layer},
                   {"reads", op.reads},
                   {"writes", op.writes},
                   {"live_bytes", plan.live_bytes[i]},
                   {"predicted_ms", op.predicted_ms}});
    if (plan.host_arena_bytes > 0) ops.back()["host_live_bytes"] = plan.host_live_bytes[i];
    if (is_copy(op.kind)) {
      auto event = [](std::size_t i) { return i == kNoOp ? nlohmann::json() : nlohmann::json(i); };
      ops.back()["wait_for_op"] = event(op.wait_for_op);
      ops.back()["waited_by_op"] = event(op.waited_by_op);
    }
  }
  nlohmann::json json = {
      {"name", plan.name},
      {"description", plan.description},
      {"layers", plan.chain.size()},
      {"checkpoints", plan.checkpoints},
      {"recomputed_forwards", plan.recomputed_forwards},
      {"recompute_flops", plan.recompute_flops},
      {"forward_flops", plan.forward_flops},
      {"arena_bytes", plan.arena_bytes},
      {"activation_peak_bytes", plan.activation_peak_bytes},
      {"live_peak_bytes", plan.live_peak_bytes},
      {"arena_gap_bytes", plan.arena_bytes - plan.live_peak_bytes},
      {"host_arena_bytes", plan.host_arena_bytes},
      {"predicted_copy_ms", plan.predicted_copy_ms},
      {"predicted_stall_ms", plan.predicted_stall_ms},
      {"layout_strategy", plan.layout_strategy},
      {"alignment_bytes", kArenaAlignment},
      {"predicted_step_ms", plan.predicted_step_ms},
      {"profile", plan.profile_name},
      {"objective", to_string(plan.context.objective)},
      {"breakdown", breakdown},
      {"buffers", buffers},
      {"ops", ops},
  };
  // Only op-level plans have it: every other plan's JSON stays byte for byte as it was.
  if (plan.derived_outputs > 0) json["derived_outputs"] = plan.derived_outputs;
  if (plan.dropped_checkpoints > 0) json["dropped_checkpoints"] = plan.dropped_checkpoints;
  return json;
}

}  // namespace egc
