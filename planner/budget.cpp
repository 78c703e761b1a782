// The budget dynamic program: sub-chain classes, smallest peaks, the memoised optimum per
// (sub-chain, memory), and the reconstruction of the optimal schedule as builder calls.
#include "planner/budget.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "planner/errors.h"
#include "planner/units.h"

namespace egc {

// The recursion (see budget.h for the space). A sub-problem Seg(s, t, tape) starts just after
// grad_act.t was made; the instance of layer s-1's output that it reads (the batch for s = 0) is
// kept throughout, and `tape` says whether what backward(t) needs of layer t (relu/tanh: its
// output, GELU: its pre-activation) is already kept from outside. It ends with backward(s).
// Its first window's run starts at s-1; the lowest output of that run read in a later window is
// a checkpoint k-1 (s <= k-1 <= t-1), so
//   Seg(s, t, tape) = recompute s..k-1 keeping k-1's output (and, with tape', its tape)
//                     + Seg(k, t, tape) + Seg(s, k-1, tape')
// and Seg(t, t, tape) = [recompute t unless the tape is kept or not needed] + backward(t).
// Top(s) is the same with the first forward pass in place of the recompute run (free), and a
// choice to keep no checkpoint at or after s: forward s..n-1, loss, Seg(s, n-1, no tape).
//
// Memory: a sub-problem's local peak counts its input instance, grad_act.t and a kept tape
// until backward(t), everything it makes, and grad_act.(s-1) at its last op; what its parent
// keeps across it (the parent's input, a GELU pre-activation kept for the left part) is added by
// the parent. A prefix op recompute(j) holds the parent's input, grad_act.t (+ tape), the
// outputs of j-1 and j, and at j = k-1 a kept pre-activation. Sub-chains with identical input
// size and layers (equal widths) are one class and share results.
//
// Optimum per (class, memory M): least cost, then least peak, over schedules with peak <= M.
// Splits are tried in increasing order of a lower bound on their cost (the unlimited-memory
// cost of both parts plus the prefix), stopping once the bound exceeds the best found. A solved
// value with peak p at M is the optimum for every memory in [p, M]; the memo keeps those
// intervals, which is what makes sweeps over memory cheap.

namespace {

constexpr std::size_t kInfinite = std::numeric_limits<std::size_t>::max();

struct Value {
  std::size_t cost = kInfinite;
  std::size_t peak = kInfinite;
  std::uint32_t choice = 0;  // (k - s) << 1 | tape' for a split, 0 for a base or Top's no-checkpoint
  bool feasible() const { return cost != kInfinite; }
  bool better_than(const Value& other) const {
    return cost != other.cost ? cost < other.cost : peak < other.peak;
  }
};

// Solved intervals [peak, high] of one sub-problem, disjoint, sorted by high.
struct Memo {
  struct Entry {
    std::size_t high;
    Value value;
  };
  std::vector<Entry> entries;

  const Value* find(std::size_t memory) const {
    auto it = std::lower_bound(entries.begin(), entries.end(), memory,
                               [](const Entry& e, std::size_t m) { return e.high < m; });
    if (it != entries.end() && it->value.peak <= memory) return &it->value;
    return nullptr;
  }
  void insert(std::size_t memory, const Value& value) {
    auto it = std::lower_bound(entries.begin(), entries.end(), memory,
                               [](const Entry& e, std::size_t m) { return e.high < m; });
    if (it != entries.begin()) {
      Entry& below = *(it - 1);
      if (below.value.cost == value.cost && below.value.peak == value.peak) {
        below.high = memory;  // same optimum: widen the interval
        return;
      }
    }
    entries.insert(it, Entry{memory, value});
  }
};

}  // namespace

struct BudgetPlanner::Impl {
  std::size_t n = 0;
  std::vector<std::size_t> bytes;  // footprint of layer j's output = pre-activation = gradient
  std::vector<std::size_t> flops;
  std::vector<SavedForBackward> tape_of;
  std::vector<std::size_t> flops_before;      // sum of flops of layers < j
  std::vector<std::size_t> pair_max_from;     // max over j' >= j >= 1 of bytes[j'-1] + bytes[j']

  std::vector<std::uint32_t> class_of;        // [s * n + t], s <= t
  std::vector<std::pair<std::size_t, std::size_t>> representative;  // (s, t) of each class
  std::vector<std::size_t> seg_min;           // [class * 2 + tape]: smallest local peak
  std::vector<std::size_t> top_min;           // [s]
  std::vector<Memo> seg_memo;
  std::vector<Memo> top_memo;

  explicit Impl(const Chain& chain);

  std::size_t input_bytes(std::size_t s) const { return s == 0 ? 0 : bytes[s - 1]; }
  bool needs_tape(std::size_t j) const { return tape_of[j] != SavedForBackward::nothing; }
  bool pre_tape(std::size_t j) const { return tape_of[j] == SavedForBackward::pre_activation; }
  std::size_t flops_between(std::size_t first, std::size_t end) const {  // layers [first, end)
    return flops_before[end] - flops_before[first];
  }
  // The tape flag only matters for layers that need one.
  std::size_t seg_state(std::size_t s, std::size_t t, bool tape) const {
    return std::size_t{class_of[s * n + t]} * 2 + (tape && needs_tape(t) ? 1 : 0);
  }
  // Cost with unlimited memory: every layer s..t-1 once, and layer t unless its tape is kept.
  std::size_t seg_min_cost(std::size_t s, std::size_t t, bool tape) const {
    return flops_between(s, t) + (needs_tape(t) && !tape ? flops[t] : 0);
  }
  // Kept across the right part: a GELU pre-activation kept for the left part's backward.
  std::size_t kept_pre_bytes(std::size_t k, bool tape) const { return tape && pre_tape(k - 1) ? bytes[k - 1] : 0; }
  // Live at prefix op j (s <= j <= k-1) besides the parent's input and gradient: outputs of j-1, j.
  std::size_t prefix_pair(std::size_t s, std::size_t j) const { return (j > s ? bytes[j - 1] : 0) + bytes[j]; }

  Value seg_base(std::size_t t, bool tape) const;
  void compute_min_peaks();
  Value seg(std::size_t s, std::size_t t, bool tape, std::size_t memory);
  Value top(std::size_t s, std::size_t memory);
  void emit_seg(std::size_t s, std::size_t t, bool tape, std::size_t memory, std::vector<ScheduleCall>& calls);
  void emit_top(std::size_t s, std::size_t memory, std::vector<ScheduleCall>& calls);
};

BudgetPlanner::Impl::Impl(const Chain& chain) : n(chain.size()) {
  if (n == 0) throw std::logic_error("BudgetPlanner: empty chain");
  std::size_t total_bytes = 0, total_flops = 0;
  for (const Layer& layer : chain.layers) {
    bytes.push_back(align_up(layer.output_bytes, kArenaAlignment));
    flops.push_back(layer.forward_flops);
    tape_of.push_back(saved_for_backward(layer.activation));
    total_bytes = checked_add(total_bytes, checked_mul(bytes.back(), 4, "activation bytes"), "activation bytes");
    total_flops = checked_add(total_flops, layer.forward_flops, "forward FLOPs");
  }
  // Bounds for every sum below: a peak never exceeds four times all outputs, and no layer is
  // recomputed more than n times.
  checked_mul(total_flops, n, "recompute FLOPs");
  flops_before.assign(n + 1, 0);
  for (std::size_t j = 0; j < n; ++j) flops_before[j + 1] = flops_before[j] + flops[j];
  pair_max_from.assign(n + 1, 0);
  for (std::size_t j = n; j-- > 1;) pair_max_from[j] = std::max(pair_max_from[j + 1], bytes[j - 1] + bytes[j]);

  // Sub-chain classes: a trie over (input kind, then each layer's type), exact (no hashing of
  // contents). A layer's type numbers its distinct (bytes, flops, tape).
  std::vector<std::uint32_t> type(n);
  {
    std::vector<std::size_t> order(n);
    for (std::size_t j = 0; j < n; ++j) order[j] = j;
    auto key = [&](std::size_t j) { return std::make_tuple(bytes[j], flops[j], static_cast<int>(tape_of[j])); };
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return key(x) < key(y); });
    std::uint32_t next = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0 && key(order[i]) != key(order[i - 1])) ++next;
      type[order[i]] = next;
    }
  }
  // Input kinds: the batch (s = 0) and each distinct byte size of a layer output.
  std::vector<std::uint32_t> input_kind(n);
  {
    std::vector<std::size_t> sizes(bytes.begin(), bytes.end());
    std::sort(sizes.begin(), sizes.end());
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
    for (std::size_t s = 0; s < n; ++s)
      input_kind[s] = s == 0 ? 0
                             : 1 + static_cast<std::uint32_t>(
                                       std::lower_bound(sizes.begin(), sizes.end(), bytes[s - 1]) - sizes.begin());
  }
  class_of.assign(n * n, 0);
  std::unordered_map<std::uint64_t, std::uint32_t> child;  // (node << 32 | layer type) -> node
  std::uint32_t nodes = 0;
  std::unordered_map<std::uint32_t, std::uint32_t> roots;  // input kind -> node
  std::vector<std::uint32_t> node_class;                   // trie node -> class, or none
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  auto node_for = [&](std::uint32_t parent, std::uint32_t symbol) {
    const std::uint64_t k = (std::uint64_t{parent} << 32) | symbol;
    auto [it, inserted] = child.emplace(k, nodes);
    if (inserted) {
      ++nodes;
      node_class.push_back(kNone);
    }
    return it->second;
  };
  for (std::size_t s = 0; s < n; ++s) {
    auto [root, inserted] = roots.emplace(input_kind[s], nodes);
    if (inserted) {
      ++nodes;
      node_class.push_back(kNone);
    }
    std::uint32_t node = root->second;
    for (std::size_t t = s; t < n; ++t) {
      node = node_for(node, type[t]);
      if (node_class[node] == kNone) {
        node_class[node] = static_cast<std::uint32_t>(representative.size());
        representative.emplace_back(s, t);
      }
      class_of[s * n + t] = node_class[node];
    }
  }
  seg_memo.resize(representative.size() * 2);
  top_memo.resize(n);
  compute_min_peaks();
}

Value BudgetPlanner::Impl::seg_base(std::size_t t, bool tape) const {
  const std::size_t x = input_bytes(t), a = bytes[t];
  Value v;
  v.cost = 0;
  // backward(t): its input, its tape, grad_act.t and the new grad_act.(t-1) (as big as the input).
  v.peak = 2 * x + a + (needs_tape(t) ? a : 0);
  if (needs_tape(t) && !tape) {
    // recompute(t): input, grad_act.t, the new output and, for GELU, the new pre-activation.
    v.peak = std::max(v.peak, x + 2 * a + (pre_tape(t) ? a : 0));
    v.cost = flops[t];
  }
  return v;
}

void BudgetPlanner::Impl::compute_min_peaks() {
  // Bottom-up by length: both parts of a split are shorter.
  std::vector<std::uint32_t> order(representative.size());
  for (std::uint32_t c = 0; c < order.size(); ++c) order[c] = c;
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
    return representative[x].second - representative[x].first < representative[y].second - representative[y].first;
  });
  seg_min.assign(representative.size() * 2, kInfinite);
  for (std::uint32_t c : order) {
    const auto [s, t] = representative[c];
    for (bool tape : {false, true}) {
      if (tape && !needs_tape(t)) continue;
      std::size_t best = kInfinite;
      if (s == t) {
        best = seg_base(t, tape).peak;
      } else {
        const std::size_t x = input_bytes(s);
        const std::size_t gradient = bytes[t] * (tape && needs_tape(t) ? 2 : 1);
        std::size_t running = 0;
        for (std::size_t k = s + 1; k <= t; ++k) {
          const std::size_t last = prefix_pair(s, k - 1);
          for (bool kept : {true, false}) {
            if (kept && !needs_tape(k - 1)) continue;
            const std::size_t p = kept_pre_bytes(k, kept);
            const std::size_t peak = std::max({x + gradient + std::max(running, last + p),
                                               x + p + seg_min[seg_state(k, t, tape)], seg_min[seg_state(s, k - 1, kept)]});
            best = std::min(best, peak);
          }
          running = std::max(running, last);
        }
      }
      seg_min[std::size_t{c} * 2 + (tape ? 1 : 0)] = best;
    }
  }
  top_min.assign(n, kInfinite);
  for (std::size_t s = n; s-- > 0;) {
    const std::size_t x = input_bytes(s);
    // No checkpoint from s on: forward s..n-1 (input and output live), the loss (prediction and
    // its gradient), then Seg(s, n-1).
    const std::size_t first_pass =
        x + std::max({bytes[s], pair_max_from[s + 1], 2 * bytes[n - 1]});
    std::size_t best = std::max(first_pass, seg_min[seg_state(s, n - 1, false)]);
    std::size_t running = 0;
    for (std::size_t k = s + 1; k < n; ++k) {
      const std::size_t last = prefix_pair(s, k - 1);
      for (bool kept : {true, false}) {
        if (kept && !needs_tape(k - 1)) continue;
        const std::size_t p = kept_pre_bytes(k, kept);
        best = std::min(best, std::max({x + std::max(running, last + p), x + p + top_min[k],
                                        seg_min[seg_state(s, k - 1, kept)]}));
      }
      running = std::max(running, last);
    }
    top_min[s] = best;
  }
}

Value BudgetPlanner::Impl::seg(std::size_t s, std::size_t t, bool tape, std::size_t memory) {
  tape = tape && needs_tape(t);
  const std::size_t state = seg_state(s, t, tape);
  if (memory < seg_min[state]) return Value{};
  Memo& memo = seg_memo[state];
  if (const Value* known = memo.find(memory)) return *known;

  Value best;
  if (s == t) {
    best = seg_base(t, tape);
  } else {
    const std::size_t x = input_bytes(s);
    const std::size_t gradient = bytes[t] * (tape ? 2 : 1);
    const std::size_t base_bound = seg_min_cost(s, t, tape);  // = prefix + right part, at least
    std::size_t running = 0;
    for (std::size_t k = s + 1; k <= t; ++k) {
      const std::size_t last = prefix_pair(s, k - 1);
      const std::size_t prefix_cost = flops_between(s, k);
      bool stop = false;
      for (bool kept : {true, false}) {
        if (kept && !needs_tape(k - 1)) continue;
        // Bounds rise along (k, kept = true), (k, false), (k + 1, true), ...: stop at the first
        // that exceeds the best (equal ones may still lower the peak).
        const std::size_t left_bound = seg_min_cost(s, k - 1, kept);
        if (best.feasible() && base_bound + left_bound > best.cost) {
          stop = true;
          break;
        }
        const std::size_t p = kept_pre_bytes(k, kept);
        const std::size_t prefix_peak = x + gradient + std::max(running, last + p);
        if (prefix_peak > memory) continue;
        const std::size_t right_state = seg_state(k, t, tape), left_state = seg_state(s, k - 1, kept);
        if (x + p + seg_min[right_state] > memory || seg_min[left_state] > memory) continue;
        const Value right = seg(k, t, tape, memory - x - p);
        if (best.feasible() && prefix_cost + right.cost + left_bound > best.cost) continue;
        const Value left = seg(s, k - 1, kept, memory);
        Value candidate;
        candidate.cost = prefix_cost + right.cost + left.cost;
        candidate.peak = std::max({prefix_peak, x + p + right.peak, left.peak});
        candidate.choice = static_cast<std::uint32_t>((k - s) << 1 | (kept ? 1 : 0));
        if (candidate.better_than(best)) best = candidate;
      }
      if (stop) break;
      running = std::max(running, last);
    }
  }
  memo.insert(memory, best);
  return best;
}

Value BudgetPlanner::Impl::top(std::size_t s, std::size_t memory) {
  if (memory < top_min[s]) return Value{};
  Memo& memo = top_memo[s];
  if (const Value* known = memo.find(memory)) return *known;

  const std::size_t x = input_bytes(s);
  Value best;
  std::size_t running = 0;
  bool stop = false;
  for (std::size_t k = s + 1; k < n && !stop; ++k) {
    const std::size_t last = prefix_pair(s, k - 1);
    for (bool kept : {true, false}) {
      if (kept && !needs_tape(k - 1)) continue;
      const std::size_t left_bound = seg_min_cost(s, k - 1, kept);  // the first pass is free
      if (best.feasible() && left_bound > best.cost) {
        stop = true;
        break;
      }
      const std::size_t p = kept_pre_bytes(k, kept);
      const std::size_t prefix_peak = x + std::max(running, last + p);
      if (prefix_peak > memory) continue;
      const std::size_t left_state = seg_state(s, k - 1, kept);
      if (x + p + top_min[k] > memory || seg_min[left_state] > memory) continue;
      const Value right = top(k, memory - x - p);
      if (best.feasible() && right.cost + left_bound > best.cost) continue;
      const Value left = seg(s, k - 1, kept, memory);
      Value candidate;
      candidate.cost = right.cost + left.cost;
      candidate.peak = std::max({prefix_peak, x + p + right.peak, left.peak});
      candidate.choice = static_cast<std::uint32_t>((k - s) << 1 | (kept ? 1 : 0));
      if (candidate.better_than(best)) best = candidate;
    }
    running = std::max(running, last);
  }
  // No checkpoint from s on; its bound, the cost of recomputing s..n-2, is the largest.
  if (!best.feasible() || seg_min_cost(s, n - 1, false) <= best.cost) {
    const std::size_t first_pass = x + std::max({bytes[s], pair_max_from[s + 1], 2 * bytes[n - 1]});
    if (first_pass <= memory && seg_min[seg_state(s, n - 1, false)] <= memory) {
      const Value rest = seg(s, n - 1, false, memory);
      Value candidate;
      candidate.cost = rest.cost;
      candidate.peak = std::max(first_pass, rest.peak);
      candidate.choice = 0;
      if (candidate.better_than(best)) best = candidate;
    }
  }
  memo.insert(memory, best);
  return best;
}

void BudgetPlanner::Impl::emit_seg(std::size_t s, std::size_t t, bool tape, std::size_t memory,
                                   std::vector<ScheduleCall>& calls) {
  tape = tape && needs_tape(t);
  const Value v = seg(s, t, tape, memory);  // solved: a memo hit
  if (s == t) {
    if (needs_tape(t) && !tape) calls.push_back({OpKind::recompute, t, pre_tape(t)});
    calls.push_back({OpKind::backward, t, false});
    return;
  }
  const std::size_t k = s + (v.choice >> 1);
  const bool kept = (v.choice & 1) != 0;
  for (std::size_t j = s; j < k; ++j) calls.push_back({OpKind::recompute, j, j + 1 == k && kept && pre_tape(j)});
  emit_seg(k, t, tape, memory - input_bytes(s) - kept_pre_bytes(k, kept), calls);
  emit_seg(s, k - 1, kept, memory, calls);
}

void BudgetPlanner::Impl::emit_top(std::size_t s, std::size_t memory, std::vector<ScheduleCall>& calls) {
  const Value v = top(s, memory);
  if (v.choice == 0) {
    for (std::size_t j = s; j < n; ++j) calls.push_back({OpKind::forward, j, false});
    calls.push_back({OpKind::loss, 0, false});
    emit_seg(s, n - 1, false, memory, calls);
    return;
  }
  const std::size_t k = s + (v.choice >> 1);
  const bool kept = (v.choice & 1) != 0;
  for (std::size_t j = s; j < k; ++j) calls.push_back({OpKind::forward, j, j + 1 == k && kept && pre_tape(j)});
  emit_top(k, memory - input_bytes(s) - kept_pre_bytes(k, kept), calls);
  emit_seg(s, k - 1, kept, memory, calls);
}

BudgetPlanner::BudgetPlanner(const Chain& chain) : impl_(std::make_unique<Impl>(chain)) {}
BudgetPlanner::~BudgetPlanner() = default;
BudgetPlanner::BudgetPlanner(BudgetPlanner&&) noexcept = default;
BudgetPlanner& BudgetPlanner::operator=(BudgetPlanner&&) noexcept = default;

std::size_t BudgetPlanner::min_activation_peak() const { return impl_->top_min[0]; }

std::optional<BudgetSchedule> BudgetPlanner::solve(std::size_t budget) {
  const Value v = impl_->top(0, budget);
  if (!v.feasible()) return std::nullopt;
  BudgetSchedule schedule;
  schedule.activation_peak_bytes = v.peak;
  schedule.recompute_flops = v.cost;
  impl_->emit_top(0, budget, schedule.calls);
  return schedule;
}

BudgetPlannerStats BudgetPlanner::stats() const {
  BudgetPlannerStats stats;
  stats.subchain_classes = impl_->representative.size();
  std::size_t memory = impl_->class_of.size() * sizeof(std::uint32_t) +
                       impl_->representative.size() * sizeof(impl_->representative[0]) +
                       impl_->seg_min.size() * sizeof(std::size_t) +
                       (impl_->seg_memo.size() + impl_->top_memo.size()) * sizeof(Memo);
  for (const auto* memos : {&impl_->seg_memo, &impl_->top_memo}) {
    for (const Memo& memo : *memos) {
      stats.memo_entries += memo.entries.size();
      memory += memo.entries.capacity() * sizeof(Memo::Entry);
    }
  }
  stats.memory_bytes = memory;
  return stats;
}

std::string infeasible_budget_message(const std::string& plan_text, std::size_t budget_bytes,
                                      std::size_t min_feasible_bytes) {
  const std::size_t colon = plan_text.find(':');
  const std::string size_text = colon == std::string::npos ? std::to_string(budget_bytes) : plan_text.substr(colon + 1);
  return "--plan " + plan_text + ": " + size_text + " (" + format_bytes(budget_bytes) +
         ") is below the smallest feasible activation peak for this model, " + format_bytes(min_feasible_bytes) +
         " (" + std::to_string(min_feasible_bytes) + " B)";
}

Plan build_budget_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                       std::size_t budget_bytes, const std::string& name) {
  BudgetPlanner planner(chain);
  const std::optional<BudgetSchedule> schedule = planner.solve(budget_bytes);
  if (!schedule) throw UsageError(infeasible_budget_message(name, budget_bytes, planner.min_activation_peak()));
  return build_schedule(chain, model, context, schedule->calls, name,
                        "least recomputation within an activation budget of " + format_bytes(budget_bytes) +
                            " (multi-level checkpoints, exact dynamic program)");
}

}  // namespace egc
