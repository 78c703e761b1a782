// The budget dynamic program: sub-chain classes, smallest peaks, the recurrence, its two solvers
// (recursive with memoised memory intervals; bottom-up over memory levels) and the
// reconstruction of the optimal schedule as builder calls.
#include "planner/budget.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "planner/errors.h"
#include "planner/lower_hull.h"
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
// Optimum per (class, memory M): least cost over schedules with peak <= M. Splits are tried in
// increasing order of a lower bound on their cost (the unlimited-memory cost of both parts plus
// the prefix), stopping once the bound reaches the best found.

namespace {

constexpr std::size_t kInfinite = std::numeric_limits<std::size_t>::max();

struct Value {
  std::size_t cost = kInfinite;
  std::size_t peak = kInfinite;
  std::uint32_t choice = 0;  // (k - s) << 1 | tape' for a split, 0 for a base or Top's no-checkpoint
  // The memory the choice was made for: its parts were asked about this less what is kept
  // across them, so the reconstruction asks the same questions and gets the same answers.
  std::size_t solved_at = 0;
  bool feasible() const { return cost != kInfinite; }
  // Least recomputation only: among equal costs the first found stays (what a solver finds
  // first is deterministic, the peak of the plan it returns is what the plan measures).
  bool better_than(const Value& other) const { return cost < other.cost; }
};

// Recursive solver's memo: a value solved at memory M with peak p is optimal for every memory
// in [p, M] (it fits, and nothing cheaper fits in more). Disjoint intervals [low, high], sorted
// by high.
struct Memo {
  struct Entry {
    std::size_t low, high;
    Value value;
  };
  std::vector<Entry> entries;

  const Value* find(std::size_t memory) const {
    auto it = std::lower_bound(entries.begin(), entries.end(), memory,
                               [](const Entry& e, std::size_t m) { return e.high < m; });
    return it != entries.end() && it->low <= memory ? &it->value : nullptr;
  }
  // `value` was solved at `memory`, which no entry covers.
  void insert(std::size_t memory, const Value& value) {
    auto it = std::lower_bound(entries.begin(), entries.end(), memory,
                               [](const Entry& e, std::size_t m) { return e.high < m; });
    if (it == entries.begin()) {
      entries.insert(it, Entry{value.peak, memory, value});
      return;
    }
    Entry& below = *(it - 1);
    if (below.value.cost == value.cost) {
      below.high = memory;  // as cheap, and it fits: widen its interval
      return;
    }
    entries.insert(it, Entry{std::max(value.peak, below.high + 1), memory, value});
  }
};

// Lattice solver's tables for one budget: level i is memory budget - i * unit. A column (a seg
// state, then Top(s)) is saturated (its unlimited-memory optimum) at levels below `first`,
// infeasible or never asked about from `end` on, and solved in between.
struct Lattice {
  std::size_t budget = 0;
  std::size_t unit = 1;
  struct Band {
    std::size_t first = 0, end = 0, offset = 0;
  };
  std::vector<Band> bands;  // per column
  struct Entry {            // a Value solved at its level's memory
    std::size_t cost, peak;
    std::uint32_t choice;
  };
  std::vector<Entry> values;  // [bands[column].offset + level - first]
  std::size_t levels = 0;     // the largest end

  std::size_t level(std::size_t memory) const { return (budget - memory) / unit; }
  static Band band(std::size_t budget, std::size_t unit, std::size_t saturated_peak, std::size_t min_peak) {
    Band b;
    b.first = budget >= saturated_peak ? (budget - saturated_peak) / unit + 1 : 0;
    b.end = budget >= min_peak ? (budget - min_peak) / unit + 1 : 0;
    if (b.end < b.first) b.end = b.first;
    return b;
  }
};

}  // namespace

struct BudgetPlanner::Impl {
  std::size_t n = 0;
  std::vector<std::size_t> bytes;  // footprint of layer j's output = pre-activation = gradient
  std::vector<std::size_t> flops;
  std::vector<SavedForBackward> tape_of;
  std::vector<std::size_t> flops_before;   // sum of flops of layers < j
  std::vector<std::size_t> pair_max_from;  // max over j' >= j >= 1 of bytes[j'-1] + bytes[j']

  std::vector<std::uint32_t> class_of;      // [s * n + t], s <= t
  std::vector<std::uint32_t> class_of_end;  // [t * n + s]: the same, contiguous over s for one t
  std::vector<std::pair<std::size_t, std::size_t>> representative;  // (s, t) of each class
  std::vector<std::uint32_t> classes_by_length;
  std::vector<std::size_t> seg_min;  // [class * 2 + tape]: smallest local peak
  std::vector<std::size_t> top_min;  // [s]
  std::vector<Value> seg_saturated;  // [class * 2 + tape]: the optimum with unlimited memory
  std::vector<Value> top_saturated;  // [s]
  std::vector<Memo> seg_memo;
  std::vector<Memo> top_memo;
  Lattice lattice;
  std::vector<std::size_t> lattice_end;  // per column: where infeasibility starts, before reach

  // Uniform chains (every hidden layer alike but for layer 0's FLOPs): sub-chains fall into
  // families by length, whose costs at one memory level are nearly convex in the length
  // (Revolve's structure). The lattice solver bounds each split by the families' lower convex
  // hulls and evaluates only the splits whose bound is below the best found.
  enum Family : std::uint8_t { prefix, interior, suffix, top_family, no_family };
  bool uniform = false;
  std::vector<Family> family_of;        // per class
  std::vector<std::size_t> length_of;   // per class
  std::vector<LowerHull> hulls;         // [(family * 2 + tape) * levels + level]; top: tape 0
  std::vector<std::uint32_t> seg_hints, top_hints;  // [state * 2 + kept], [s * 2 + kept]: last minimiser
  std::vector<std::vector<std::size_t>> pair_max;  // sparse table of bytes[j-1] + bytes[j], j >= 1

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
  std::size_t seg_state_by_end(std::size_t s, std::size_t t, bool tape) const {
    return std::size_t{class_of_end[t * n + s]} * 2 + (tape && needs_tape(t) ? 1 : 0);
  }
  // Cost with unlimited memory: every layer s..t-1 once, and layer t unless its tape is kept.
  std::size_t seg_min_cost(std::size_t s, std::size_t t, bool tape) const {
    return flops_between(s, t) + (needs_tape(t) && !tape ? flops[t] : 0);
  }
  // Kept across the right part: a GELU pre-activation kept for the left part's backward.
  std::size_t kept_pre_bytes(std::size_t k, bool tape) const { return tape && pre_tape(k - 1) ? bytes[k - 1] : 0; }
  // Live at prefix op j (s <= j <= k-1) besides the parent's input and gradient: outputs of j-1, j.
  std::size_t prefix_pair(std::size_t s, std::size_t j) const { return (j > s ? bytes[j - 1] : 0) + bytes[j]; }
  // Top(s) without a checkpoint: forward s..n-1 (input and output live), then the loss
  // (prediction and its gradient), with the input of s kept throughout.
  std::size_t first_pass_peak(std::size_t s) const {
    return input_bytes(s) + std::max({bytes[s], pair_max_from[s + 1], 2 * bytes[n - 1]});
  }

  // max over s <= j < k-1 of prefix_pair(s, j): what the prefix holds before its last op.
  std::size_t prefix_running(std::size_t s, std::size_t k) const;
  Value seg_base(std::size_t t, bool tape) const;
  template <typename SegValue>
  Value seg_split(std::size_t s, std::size_t t, bool tape, std::size_t memory, std::size_t k, bool kept,
                  std::size_t running, const Value& best, SegValue&& seg_value) const;
  template <typename SegValue, typename TopValue>
  Value top_split(std::size_t s, std::size_t memory, std::size_t k, bool kept, std::size_t running,
                  const Value& best, SegValue&& seg_value, TopValue&& top_value) const;
  template <typename Evaluate, typename Bound>
  void hull_search(std::size_t length, bool kept, const LowerHull& right, const LowerHull& left, Bound&& bound,
                   Evaluate&& evaluate, const Value& best, std::uint32_t& hint) const;
  LowerHull& hull(Family family, bool tape, std::size_t level) {
    return hulls[(static_cast<std::size_t>(family) * 2 + (tape ? 1 : 0)) * lattice.levels + level];
  }
  template <typename SegValue>
  Value seg_splits_uniform(std::size_t s, std::size_t t, bool tape, std::size_t memory, SegValue&& seg_value);
  template <typename SegValue, typename TopValue>
  Value top_options_uniform(std::size_t s, std::size_t memory, SegValue&& seg_value, TopValue&& top_value);
  template <typename SegValue>
  Value seg_splits(std::size_t s, std::size_t t, bool tape, std::size_t memory, SegValue&& seg_value) const;
  template <typename SegValue, typename TopValue>
  Value top_options(std::size_t s, std::size_t memory, SegValue&& seg_value, TopValue&& top_value) const;
  void compute_min_peaks();

  // Recursive solver.
  Value seg(std::size_t s, std::size_t t, bool tape, std::size_t memory);
  Value top(std::size_t s, std::size_t memory);
  // Lattice solver: fills `lattice` for `budget`; false when its tables would be too large.
  bool solve_lattice(std::size_t budget, std::size_t max_entries);
  Value lattice_value(std::size_t column, std::size_t memory, const Value& saturated) const;
  Value lattice_seg(std::size_t state, std::size_t memory) const;
  Value lattice_top(std::size_t s, std::size_t memory) const;

  template <typename SegValue>
  void emit_seg(std::size_t s, std::size_t t, bool tape, std::size_t memory, std::vector<ScheduleCall>& calls,
                SegValue&& seg_value) const;
  template <typename SegValue, typename TopValue>
  void emit_top(std::size_t s, std::size_t memory, std::vector<ScheduleCall>& calls, SegValue&& seg_value,
                TopValue&& top_value) const;
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
  pair_max.emplace_back(n, 0);
  for (std::size_t j = 1; j < n; ++j) pair_max[0][j] = bytes[j - 1] + bytes[j];
  for (std::size_t width = 2; width <= n; width *= 2) {
    const std::vector<std::size_t>& below = pair_max.back();
    std::vector<std::size_t> row(n, 0);
    for (std::size_t j = 0; j + width <= n; ++j) row[j] = std::max(below[j], below[j + width / 2]);
    pair_max.push_back(std::move(row));
  }

  // Sub-chain classes: a trie over (input kind, then each layer's type), exact (no hashing of
  // contents). A layer's type numbers its distinct (bytes, flops, tape).
  std::vector<std::uint32_t> type(n);
  {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
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
  class_of_end.assign(n * n, 0);
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::unordered_map<std::uint64_t, std::uint32_t> child;  // (node << 32 | layer type) -> node
  std::unordered_map<std::uint32_t, std::uint32_t> roots;  // input kind -> node
  std::vector<std::uint32_t> node_class;                   // trie node -> class, or kNone
  auto new_node = [&]() {
    node_class.push_back(kNone);
    return static_cast<std::uint32_t>(node_class.size() - 1);
  };
  for (std::size_t s = 0; s < n; ++s) {
    auto root = roots.find(input_kind[s]);
    if (root == roots.end()) root = roots.emplace(input_kind[s], new_node()).first;
    std::uint32_t node = root->second;
    for (std::size_t t = s; t < n; ++t) {
      const std::uint64_t key = (std::uint64_t{node} << 32) | type[t];
      auto next = child.find(key);
      if (next == child.end()) next = child.emplace(key, new_node()).first;
      node = next->second;
      if (node_class[node] == kNone) {
        node_class[node] = static_cast<std::uint32_t>(representative.size());
        representative.emplace_back(s, t);
      }
      class_of[s * n + t] = class_of_end[t * n + s] = node_class[node];
    }
  }
  classes_by_length.resize(representative.size());
  std::iota(classes_by_length.begin(), classes_by_length.end(), std::uint32_t{0});
  std::stable_sort(classes_by_length.begin(), classes_by_length.end(), [&](std::uint32_t x, std::uint32_t y) {
    return representative[x].second - representative[x].first < representative[y].second - representative[y].first;
  });
  seg_memo.resize(representative.size() * 2);
  top_memo.resize(n);

  uniform = n >= 4;
  for (std::size_t j = 1; j + 1 < n && uniform; ++j)
    uniform = bytes[j] == bytes[0] && tape_of[j] == tape_of[0] && flops[j] == flops[1];
  uniform = uniform && n <= (std::size_t{1} << 15);  // keeps the hull fractions' products in 128 bits
  family_of.assign(representative.size(), no_family);
  length_of.assign(representative.size(), 0);
  if (uniform) {
    for (std::size_t c = 0; c < representative.size(); ++c) {
      const auto [s, t] = representative[c];
      length_of[c] = t - s + 1;
      if (t + 1 < n) family_of[c] = s == 0 ? prefix : interior;
      else if (s > 0) family_of[c] = suffix;
    }
  }
  compute_min_peaks();
  seg_saturated.assign(representative.size() * 2, Value{});
  top_saturated.assign(n, Value{});
  for (std::uint32_t c : classes_by_length) {
    const auto [s, t] = representative[c];
    for (bool tape : {false, true})
      if (!tape || needs_tape(t)) seg_saturated[std::size_t{c} * 2 + (tape ? 1 : 0)] = seg(s, t, tape, kInfinite);
  }
  for (std::size_t s = n; s-- > 0;) top_saturated[s] = top(s, kInfinite);
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

std::size_t BudgetPlanner::Impl::prefix_running(std::size_t s, std::size_t k) const {
  if (k < s + 2) return 0;
  std::size_t running = bytes[s];  // j = s: only its output (its input is the parent's)
  if (k >= s + 3) {                // j in [s+1, k-2]: outputs of j-1 and j
    const std::size_t first = s + 1, last = k - 2;
    std::size_t level = 0;
    while ((std::size_t{2} << level) <= last - first + 1) ++level;
    running = std::max({running, pair_max[level][first], pair_max[level][last + 1 - (std::size_t{1} << level)]});
  }
  return running;
}

// One split of Seg(s, t, tape): recompute s..k-1 keeping k-1's output (and its tape when
// `kept`), then Seg(k, t, tape) and Seg(s, k-1, kept). `running` is prefix_running(s, k).
// Infeasible, or no better than `best` as soon as that is certain.
template <typename SegValue>
Value BudgetPlanner::Impl::seg_split(std::size_t s, std::size_t t, bool tape, std::size_t memory, std::size_t k,
                                     bool kept, std::size_t running, const Value& best, SegValue&& seg_value) const {
  const std::size_t x = input_bytes(s);
  const std::size_t p = kept_pre_bytes(k, kept);
  const std::size_t prefix_peak = x + bytes[t] * (tape ? 2 : 1) + std::max(running, prefix_pair(s, k - 1) + p);
  const std::size_t right_state = seg_state_by_end(k, t, tape), left_state = seg_state(s, k - 1, kept);
  if (std::max({prefix_peak, x + p + seg_min[right_state], seg_min[left_state]}) > memory) return Value{};
  const std::size_t prefix_cost = flops_between(s, k);
  const Value right = seg_value(k, t, tape, right_state, memory - x - p);
  // The left part costs at least its unlimited-memory cost.
  if (best.feasible() && prefix_cost + right.cost + seg_min_cost(s, k - 1, kept) >= best.cost) return Value{};
  const Value left = seg_value(s, k - 1, kept, left_state, memory);
  Value candidate;
  candidate.cost = prefix_cost + right.cost + left.cost;
  candidate.peak = std::max({prefix_peak, x + p + right.peak, left.peak});
  candidate.choice = static_cast<std::uint32_t>((k - s) << 1 | (kept ? 1 : 0));
  return candidate;
}

// One split of Top(s): the first pass keeps k-1's output (and its tape when `kept`), then
// Top(k) and Seg(s, k-1, kept).
template <typename SegValue, typename TopValue>
Value BudgetPlanner::Impl::top_split(std::size_t s, std::size_t memory, std::size_t k, bool kept, std::size_t running,
                                     const Value& best, SegValue&& seg_value, TopValue&& top_value) const {
  const std::size_t x = input_bytes(s);
  const std::size_t p = kept_pre_bytes(k, kept);
  const std::size_t prefix_peak = x + std::max(running, prefix_pair(s, k - 1) + p);
  const std::size_t left_state = seg_state(s, k - 1, kept);
  if (std::max({prefix_peak, x + p + top_min[k], seg_min[left_state]}) > memory) return Value{};
  const Value right = top_value(k, memory - x - p);
  if (best.feasible() && right.cost + seg_min_cost(s, k - 1, kept) >= best.cost) return Value{};
  const Value left = seg_value(s, k - 1, kept, left_state, memory);
  Value candidate;
  candidate.cost = right.cost + left.cost;
  candidate.peak = std::max({prefix_peak, x + p + right.peak, left.peak});
  candidate.choice = static_cast<std::uint32_t>((k - s) << 1 | (kept ? 1 : 0));
  return candidate;
}

// The best split of Seg(s, t, tape), s < t, within `memory` (>= its smallest peak), trying
// every split in increasing order of a lower bound on its cost. seg_value(s', t', tape',
// state', memory') is a sub-problem's optimum.
template <typename SegValue>
Value BudgetPlanner::Impl::seg_splits(std::size_t s, std::size_t t, bool tape, std::size_t memory,
                                      SegValue&& seg_value) const {
  const std::size_t base_bound = seg_min_cost(s, t, tape);  // the prefix and the right part, at least
  Value best;
  std::size_t running = 0;
  for (std::size_t k = s + 1; k <= t; ++k) {
    for (bool kept : {true, false}) {
      if (kept && !needs_tape(k - 1)) continue;
      // Bounds rise along (k, kept = true), (k, false), (k + 1, true), ...: stop at the first
      // that cannot beat the best.
      if (best.feasible() && base_bound + seg_min_cost(s, k - 1, kept) >= best.cost) return best;
      const Value candidate = seg_split(s, t, tape, memory, k, kept, running, best, seg_value);
      if (candidate.better_than(best)) best = candidate;
    }
    running = std::max(running, prefix_pair(s, k - 1));
  }
  return best;
}

// The best option of Top(s) within `memory` (>= its smallest peak); top_value(k, memory') is
// Top(k)'s optimum.
template <typename SegValue, typename TopValue>
Value BudgetPlanner::Impl::top_options(std::size_t s, std::size_t memory, SegValue&& seg_value,
                                       TopValue&& top_value) const {
  Value best;
  std::size_t running = 0;
  bool stop = false;
  for (std::size_t k = s + 1; k < n && !stop; ++k) {
    for (bool kept : {true, false}) {
      if (kept && !needs_tape(k - 1)) continue;
      if (best.feasible() && seg_min_cost(s, k - 1, kept) >= best.cost) {  // the first pass is free
        stop = true;
        break;
      }
      const Value candidate = top_split(s, memory, k, kept, running, best, seg_value, top_value);
      if (candidate.better_than(best)) best = candidate;
    }
    running = std::max(running, prefix_pair(s, k - 1));
  }
  // No checkpoint from s on; its bound, the cost of recomputing s..n-2, is the largest.
  const std::size_t rest_state = seg_state(s, n - 1, false);
  if (!best.feasible() || seg_min_cost(s, n - 1, false) < best.cost) {
    if (std::max(first_pass_peak(s), seg_min[rest_state]) <= memory) {
      const Value rest = seg_value(s, n - 1, false, rest_state, memory);
      Value candidate;
      candidate.cost = rest.cost;
      candidate.peak = std::max(first_pass_peak(s), rest.peak);
      candidate.choice = 0;
      if (candidate.better_than(best)) best = candidate;
    }
  }
  return best;
}

// Splits p = 1 .. length-1 of a uniform parent with one choice of `kept`: bound(p) is an exact
// convex lower bound on the split's cost (prefix cost, affine in p, + hull of the right part at
// length length-p + hull of the left part at length p), defined where both hulls cover; outside,
// a part is infeasible. Evaluates the bound's minimiser (found by descent from `hint`, where it
// was one level deeper), then every split whose bound is below the best found: the others
// cannot be cheaper.
template <typename Evaluate, typename Bound>
void BudgetPlanner::Impl::hull_search(std::size_t length, bool kept, const LowerHull& right, const LowerHull& left,
                                      Bound&& bound, Evaluate&& evaluate, const Value& best,
                                      std::uint32_t& hint) const {
  if (right.empty() || left.empty() || length < 2) return;
  // Where both parts are feasible at all: right length in its hull, left length in its hull.
  const std::size_t low = std::max<std::size_t>({1, left.lowest(), length > right.highest() ? length - right.highest() : 1});
  const std::size_t high = std::min<std::size_t>({length - 1, left.highest(), length > right.lowest() ? length - right.lowest() : 0});
  if (low > high) return;
  // Convex: descending from any start ends at a minimiser.
  std::size_t at = std::min<std::size_t>(std::max<std::size_t>(hint, low), high);
  Fraction here = bound(at);
  bool moved = false;
  while (at < high) {
    const Fraction next = bound(at + 1);
    if (!(next < here)) break;
    ++at;
    here = next;
    moved = true;
  }
  while (!moved && at > low) {
    const Fraction next = bound(at - 1);
    if (!(next < here)) break;
    --at;
    here = next;
  }
  hint = static_cast<std::uint32_t>(at);
  if (best.feasible() && !below(here, best.cost)) return;  // nothing here can be cheaper
  evaluate(at, kept);
  if (!best.feasible()) {  // the minimiser's split does not fit (a prefix too large): try them all
    for (std::size_t p = low; p <= high; ++p) evaluate(p, kept);
    return;
  }
  if (!below(here, best.cost)) return;
  // The bound's strict sub-level set {p : bound(p) < best} is an interval around the minimiser.
  std::size_t lo = low, hi = at;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (below(bound(mid), best.cost)) hi = mid;
    else lo = mid + 1;
  }
  const std::size_t first = lo;
  lo = at;
  hi = high;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo + 1) / 2;
    if (below(bound(mid), best.cost)) lo = mid;
    else hi = mid - 1;
  }
  for (std::size_t p = first; p <= lo; ++p)
    if (p != at) evaluate(p, kept);
}

template <typename SegValue>
Value BudgetPlanner::Impl::seg_splits_uniform(std::size_t s, std::size_t t, bool tape, std::size_t memory,
                                              SegValue&& seg_value) {
  const std::size_t length = t - s + 1;
  const std::size_t level = lattice.level(memory);
  const Family right_family = t == n - 1 ? suffix : interior, left_family = s == 0 ? prefix : interior;
  Value best;
  auto evaluate = [&](std::size_t p, bool kept) {
    const Value candidate = seg_split(s, t, tape, memory, s + p, kept, prefix_running(s, s + p), best, seg_value);
    if (candidate.better_than(best)) best = candidate;
  };
  for (bool kept : {true, false}) {
    if (kept && !needs_tape(s)) continue;  // every hidden layer alike: kept applies to all or none
    const std::size_t shift = input_bytes(s) + (kept && pre_tape(s) ? bytes[s] : 0);
    if (shift > memory || lattice.level(memory - shift) >= lattice.levels) continue;
    const LowerHull& right = hull(right_family, tape && needs_tape(t), lattice.level(memory - shift));
    const LowerHull& left = hull(left_family, kept, level);
    auto bound = [&](std::size_t p) {
      return add(add(Fraction{static_cast<Wide>(flops_between(s, s + p)), 1}, right.at(length - p)), left.at(p));
    };
    hull_search(length, kept, right, left, bound, evaluate, best, seg_hints[seg_state(s, t, tape) * 2 + (kept ? 1 : 0)]);
  }
  return best;
}

template <typename SegValue, typename TopValue>
Value BudgetPlanner::Impl::top_options_uniform(std::size_t s, std::size_t memory, SegValue&& seg_value,
                                               TopValue&& top_value) {
  const std::size_t length = n - s;
  const std::size_t level = lattice.level(memory);
  Value best;
  auto evaluate = [&](std::size_t p, bool kept) {
    const Value candidate =
        top_split(s, memory, s + p, kept, prefix_running(s, s + p), best, seg_value, top_value);
    if (candidate.better_than(best)) best = candidate;
  };
  for (bool kept : {true, false}) {
    if (kept && !needs_tape(s)) continue;
    const std::size_t shift = input_bytes(s) + (kept && pre_tape(s) ? bytes[s] : 0);
    if (shift > memory || lattice.level(memory - shift) >= lattice.levels) continue;
    const LowerHull& right = hull(top_family, false, lattice.level(memory - shift));
    const LowerHull& left = hull(s == 0 ? prefix : interior, kept, level);
    auto bound = [&](std::size_t p) { return add(right.at(length - p), left.at(p)); };
    hull_search(length, kept, right, left, bound, evaluate, best, top_hints[s * 2 + (kept ? 1 : 0)]);
  }
  // No checkpoint from s on.
  const std::size_t rest_state = seg_state(s, n - 1, false);
  const std::size_t first_pass = first_pass_peak(s);
  if (first_pass <= memory && seg_min[rest_state] <= memory) {
    const Value rest = seg_value(s, n - 1, false, rest_state, memory);
    Value candidate;
    candidate.cost = rest.cost;
    candidate.peak = std::max(first_pass, rest.peak);
    candidate.choice = 0;
    if (candidate.better_than(best)) best = candidate;
  }
  return best;
}

void BudgetPlanner::Impl::compute_min_peaks() {
  // Bottom-up by length (both parts of a split are shorter), minimising the peak alone.
  seg_min.assign(representative.size() * 2, kInfinite);
  for (std::uint32_t c : classes_by_length) {
    const auto [s, t] = representative[c];
    for (bool tape : {false, true}) {
      if (tape && !needs_tape(t)) continue;
      std::size_t best = kInfinite;
      if (s == t) {
        best = seg_base(t, tape).peak;
      } else {
        const std::size_t x = input_bytes(s);
        const std::size_t gradient = bytes[t] * (tape ? 2 : 1);
        std::size_t running = 0;
        for (std::size_t k = s + 1; k <= t; ++k) {
          const std::size_t last = prefix_pair(s, k - 1);
          for (bool kept : {true, false}) {
            if (kept && !needs_tape(k - 1)) continue;
            const std::size_t p = kept_pre_bytes(k, kept);
            best = std::min(best, std::max({x + gradient + std::max(running, last + p),
                                            x + p + seg_min[seg_state_by_end(k, t, tape)],
                                            seg_min[seg_state(s, k - 1, kept)]}));
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
    std::size_t best = std::max(first_pass_peak(s), seg_min[seg_state(s, n - 1, false)]);
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
  Value best =
      s == t ? seg_base(t, tape)
             : seg_splits(s, t, tape, memory, [this](std::size_t s2, std::size_t t2, bool tape2, std::size_t,
                                                     std::size_t memory2) { return seg(s2, t2, tape2, memory2); });
  best.solved_at = memory;
  memo.insert(memory, best);
  return *memo.find(memory);  // an equally cheap value solved before may stand for it
}

Value BudgetPlanner::Impl::top(std::size_t s, std::size_t memory) {
  if (memory < top_min[s]) return Value{};
  Memo& memo = top_memo[s];
  if (const Value* known = memo.find(memory)) return *known;
  Value best = top_options(
      s, memory,
      [this](std::size_t s2, std::size_t t2, bool tape2, std::size_t, std::size_t memory2) {
        return seg(s2, t2, tape2, memory2);
      },
      [this](std::size_t k, std::size_t memory2) { return top(k, memory2); });
  best.solved_at = memory;
  memo.insert(memory, best);
  return *memo.find(memory);
}

Value BudgetPlanner::Impl::lattice_value(std::size_t column, std::size_t memory, const Value& saturated) const {
  if (memory > lattice.budget) return saturated;  // a part of a saturated value
  const Lattice::Band& band = lattice.bands[column];
  const std::size_t level = lattice.level(memory);
  if (level < band.first) return saturated;
  if (level >= band.end) {
    if (level >= lattice_end[column]) return Value{};  // infeasible
    throw std::logic_error("budget lattice: a part asked about a memory it cannot be reached with");
  }
  const Lattice::Entry& e = lattice.values[band.offset + level - band.first];
  return Value{e.cost, e.peak, e.choice, lattice.budget - level * lattice.unit};
}

Value BudgetPlanner::Impl::lattice_seg(std::size_t state, std::size_t memory) const {
  return lattice_value(state, memory, seg_saturated[state]);
}

Value BudgetPlanner::Impl::lattice_top(std::size_t s, std::size_t memory) const {
  return lattice_value(seg_min.size() + s, memory, top_saturated[s]);
}

bool BudgetPlanner::Impl::solve_lattice(std::size_t budget, std::size_t max_entries) {
  // Every memory a sub-problem is asked about is the budget less inputs and kept
  // pre-activations, all outputs of hidden layers: a level when the unit divides them all.
  std::size_t unit = 0;
  for (std::size_t j = 0; j + 1 < n; ++j) unit = std::gcd(unit, bytes[j]);
  if (unit == 0) unit = kArenaAlignment;  // a chain of one layer never subtracts anything
  Lattice next;
  next.budget = budget;
  next.unit = unit;
  // A sub-problem starting at layer s is asked about the budget less what its ancestors keep
  // across it: inputs of layers <= s-2 and pre-activations of layers <= s-1, each once. Deeper
  // levels are never asked about.
  std::vector<std::size_t> reach_of_start(n, 0);
  {
    std::size_t held = 0;
    for (std::size_t s = 0; s < n; ++s) {
      if (s >= 2) held += bytes[s - 2];
      if (s >= 1 && pre_tape(s - 1)) held += bytes[s - 1];
      reach_of_start[s] = held / unit + 1;
    }
  }
  std::vector<std::size_t> class_reach(representative.size(), 0);
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t t = s; t < n; ++t)
      class_reach[class_of[s * n + t]] = std::max(class_reach[class_of[s * n + t]], reach_of_start[s]);
  std::size_t entries = 0;
  lattice_end.clear();
  auto add_band = [&](std::size_t saturated_peak, std::size_t min_peak, std::size_t reach) {
    Lattice::Band band = min_peak == kInfinite ? Lattice::Band{} : Lattice::band(budget, unit, saturated_peak, min_peak);
    lattice_end.push_back(band.end);
    band.end = std::max(band.first, std::min(band.end, reach));
    band.offset = entries;
    entries += band.end - band.first;
    next.levels = std::max(next.levels, band.end);
    next.bands.push_back(band);
  };
  for (std::size_t state = 0; state < seg_min.size(); ++state)
    add_band(seg_saturated[state].peak, seg_min[state], class_reach[state / 2]);
  for (std::size_t s = 0; s < n; ++s) add_band(top_saturated[s].peak, top_min[s], reach_of_start[s]);
  if (entries > max_entries) return false;
  next.values.resize(entries);
  lattice = std::move(next);
  hulls.assign(uniform ? 7 * lattice.levels : 0, LowerHull{});
  seg_hints.assign(uniform ? seg_min.size() * 2 : 0, 1);
  top_hints.assign(uniform ? n * 2 : 0, 1);

  auto seg_value = [this](std::size_t, std::size_t, bool, std::size_t state, std::size_t memory) {
    return lattice_seg(state, memory);
  };
  auto top_value = [this](std::size_t k, std::size_t memory) { return lattice_top(k, memory); };
  // Less memory first: a right part is asked about a deeper level (or the same one, when nothing
  // is kept across it, and then it is shorter); a left part about the same level, shorter.
  for (std::size_t level = lattice.levels; level-- > 0;) {
    const std::size_t memory = budget - level * unit;
    for (std::uint32_t c : classes_by_length) {
      const auto [s, t] = representative[c];
      for (bool tape : {false, true}) {
        const std::size_t state = std::size_t{c} * 2 + (tape ? 1 : 0);
        if (seg_min[state] == kInfinite) continue;
        const Lattice::Band& band = lattice.bands[state];
        const bool in_band = level >= band.first && level < band.end;
        Value v;
        if (in_band) {
          v = s == t ? seg_base(t, tape)
                     : uniform ? seg_splits_uniform(s, t, tape, memory, seg_value)
                               : seg_splits(s, t, tape, memory, seg_value);
          lattice.values[band.offset + level - band.first] = {v.cost, v.peak, v.choice};
        } else if (uniform && family_of[c] != no_family && (level < band.first || level >= lattice_end[state])) {
          v = lattice_seg(state, memory);  // saturated or infeasible; unreachable levels stay out
        }
        if (uniform && family_of[c] != no_family && v.feasible())
          hull(family_of[c], tape, level).append(length_of[c], v.cost);
      }
    }
    for (std::size_t s = n; s-- > 0;) {
      const std::size_t column = seg_min.size() + s;
      const Lattice::Band& band = lattice.bands[column];
      const bool in_band = level >= band.first && level < band.end;
      Value v;
      if (in_band) {
        v = uniform ? top_options_uniform(s, memory, seg_value, top_value) : top_options(s, memory, seg_value, top_value);
        lattice.values[band.offset + level - band.first] = {v.cost, v.peak, v.choice};
      } else if (uniform && s > 0 && (level < band.first || level >= lattice_end[column])) {
        v = lattice_top(s, memory);
      }
      if (uniform && s > 0 && v.feasible()) hull(top_family, false, level).append(n - s, v.cost);
    }
  }
  return true;
}

template <typename SegValue>
void BudgetPlanner::Impl::emit_seg(std::size_t s, std::size_t t, bool tape, std::size_t memory,
                                   std::vector<ScheduleCall>& calls, SegValue&& seg_value) const {
  tape = tape && needs_tape(t);
  if (s == t) {
    if (needs_tape(t) && !tape) calls.push_back({OpKind::recompute, t, pre_tape(t)});
    calls.push_back({OpKind::backward, t, false});
    return;
  }
  const Value v = seg_value(s, t, tape, seg_state(s, t, tape), memory);
  const std::size_t k = s + (v.choice >> 1);
  const bool kept = (v.choice & 1) != 0;
  for (std::size_t j = s; j < k; ++j) calls.push_back({OpKind::recompute, j, j + 1 == k && kept && pre_tape(j)});
  emit_seg(k, t, tape, v.solved_at - input_bytes(s) - kept_pre_bytes(k, kept), calls, seg_value);
  emit_seg(s, k - 1, kept, v.solved_at, calls, seg_value);
}

template <typename SegValue, typename TopValue>
void BudgetPlanner::Impl::emit_top(std::size_t s, std::size_t memory, std::vector<ScheduleCall>& calls,
                                   SegValue&& seg_value, TopValue&& top_value) const {
  const Value v = top_value(s, memory);
  if (v.choice == 0) {
    for (std::size_t j = s; j < n; ++j) calls.push_back({OpKind::forward, j, false});
    calls.push_back({OpKind::loss, 0, false});
    emit_seg(s, n - 1, false, v.solved_at, calls, seg_value);
    return;
  }
  const std::size_t k = s + (v.choice >> 1);
  const bool kept = (v.choice & 1) != 0;
  for (std::size_t j = s; j < k; ++j) calls.push_back({OpKind::forward, j, j + 1 == k && kept && pre_tape(j)});
  emit_top(k, v.solved_at - input_bytes(s) - kept_pre_bytes(k, kept), calls, seg_value, top_value);
  emit_seg(s, k - 1, kept, v.solved_at, calls, seg_value);
}

BudgetPlanner::BudgetPlanner(const Chain& chain) : impl_(std::make_unique<Impl>(chain)) {}
BudgetPlanner::~BudgetPlanner() = default;
BudgetPlanner::BudgetPlanner(BudgetPlanner&&) noexcept = default;
BudgetPlanner& BudgetPlanner::operator=(BudgetPlanner&&) noexcept = default;

std::size_t BudgetPlanner::min_activation_peak() const { return impl_->top_min[0]; }

std::optional<BudgetSchedule> BudgetPlanner::solve(std::size_t budget, BudgetSolver solver) {
  Impl& impl = *impl_;
  if (budget < impl.top_min[0]) return std::nullopt;
  BudgetSchedule schedule;
  const bool recursive =
      solver == BudgetSolver::recursive || (solver == BudgetSolver::automatic && !impl.uniform) ||
      !impl.solve_lattice(budget, solver == BudgetSolver::lattice ? kInfinite : kLatticeMaxEntries);
  Value v;
  if (!recursive) {
    auto seg_value = [&impl](std::size_t, std::size_t, bool, std::size_t state, std::size_t memory) {
      return impl.lattice_seg(state, memory);
    };
    auto top_value = [&impl](std::size_t k, std::size_t memory) { return impl.lattice_top(k, memory); };
    v = top_value(0, budget);
    impl.emit_top(0, budget, schedule.calls, seg_value, top_value);
  } else {
    v = impl.top(0, budget);
    // Solved: every value the reconstruction asks for is a memo hit.
    auto seg_value = [&impl](std::size_t s, std::size_t t, bool tape, std::size_t, std::size_t memory) {
      return impl.seg(s, t, tape, memory);
    };
    auto top_value = [&impl](std::size_t k, std::size_t memory) { return impl.top(k, memory); };
    impl.emit_top(0, budget, schedule.calls, seg_value, top_value);
  }
  schedule.activation_peak_bytes = v.peak;
  schedule.recompute_flops = v.cost;
  return schedule;
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
