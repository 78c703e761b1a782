// BudgetChain: the chain as the budget dynamic program sees it: each unit's footprints (output,
// tape, forward and backward scratch), the cost of recomputing it (FLOPs or picoseconds), the sums and maxima that its peaks and costs are
// made of, the classes of equal sub-chains (the sub-problems, numbered as columns) and each
// sub-problem's smallest peak.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "planner/chain.h"
#include "planner/model_spec.h"

// The dynamic program's own types (budget_chain.h, budget_split.h, budget_recursive.h,
// budget_lattice.h): names such as Part and Value are kept apart from the rest of egc.
namespace egc::budget_dp {

constexpr std::size_t kInfinite = std::numeric_limits<std::size_t>::max();
// The longest chain whose sourced sub-problems (drops) are tabulated: n^3 class numbers.
constexpr std::size_t kMaxDropUnits = 1024;

// A sub-problem of the recursion (budget_split.h): Seg(s, t, tape), or Top(s), which is the
// first pass from s on and everything after it (t = n-1, no tape); either `derived` (op-level):
// its input, layer s-1's output, is kept only as its pre-activation and re-derived where read.
// Where drops are searched (BudgetChain::drops), a Seg or Top may also be `sourced`: its input can
// be re-made by recomputing layers source..s-1 from the held instance of layer source-1's output
// (the batch for source 0), so its splits may drop the input across their right part.
// Sub-problems with identical results share a column: 2 * class + tape for a Seg, 2 * classes + s
// for Top(s); the derived ones the same again after all of those (derived_base()); the sourced
// ones after those (drop_base()): 2 * drop class + tape, then Top(s) from source p at p * n + s.
struct Part {
  std::size_t s = 0, t = 0;
  bool tape = false;  // Seg: what backward(t) needs of layer t is kept from outside (only set where it needs one)
  bool top = false;
  bool derived = false;  // only where layer s-1's output is derivable (BudgetChain::derivable_input)
  std::size_t source = kInfinite;  // < s where sourced (never with derived), else kInfinite
  std::size_t column = 0;
  bool sourced() const { return source != kInfinite; }
};

struct BudgetChain {
  // unit_cost[j]: what one recompute of unit j costs the objective (planner/recompute_cost.h);
  // every cost below is a sum of these. count_gradients: each backward also holds its unit's
  // parameter gradients (per-layer updates), so peaks are of activations and gradients together.
  // Throws UsageError when byte or cost totals of the chain would overflow 64 bits.
  // derive_cost[j]: one derive of unit j's output from its kept pre-activation (op-level
  // recomputation), kInfinite where it cannot be derived; empty: no derives (layer-level space).
  // With `drop_checkpoints`, the space has drop-and-re-derive (budget_split.h, Splits): sourced
  // parts and their columns.
  BudgetChain(const Chain& chain, std::vector<std::size_t> unit_cost, bool count_gradients = false,
              std::vector<std::size_t> unit_derive_cost = {}, bool drop_checkpoints = false);

  std::size_t n = 0;
  // Per unit j (planner/unit_memory.h): the footprint of its output (= its gradient), of what its
  // backward needs of it (`tape`: the output itself for relu/tanh, else a separate tape kept by
  // keep_tape), of its forward's and its backward's own scratch, and the bytes of the input
  // gradient its backward makes (its input's size; 0 at unit 0 and for a block, which adds it in place).
  std::vector<std::size_t> bytes;
  std::vector<std::size_t> tape_bytes;
  std::vector<std::size_t> forward_scratch;
  std::vector<std::size_t> backward_scratch;
  std::vector<std::size_t> grad_input_bytes;
  std::vector<std::size_t> parameter_gradients;  // held by its backward when counted, else 0
  std::vector<std::size_t> cost;  // per unit: one recompute of it
  std::vector<std::size_t> derive_cost;  // per unit: one derive of its output (kInfinite: none), or empty
  bool derives = false;                  // some unit's output is derivable: the derived columns exist
  bool drops = false;                    // checkpoints may be dropped and re-derived: the sourced columns exist
  std::vector<SavedForBackward> tape_of;
  std::vector<std::size_t> cost_before;    // sum of cost of layers < j
  std::vector<std::size_t> pair_max_from;  // max over j' >= j >= 1 of pair(j') (prefix_pair(s, j') for s < j')
  std::vector<std::vector<std::size_t>> pair_max;  // sparse table of pair(j), j >= 1

  // Sub-chains with identical input size and layers (equal widths) are one class and share results.
  std::vector<std::uint32_t> class_of;      // [s * n + t], s <= t
  std::vector<std::uint32_t> class_of_end;  // [t * n + s]: the same, contiguous over s for one t
  std::vector<std::pair<std::size_t, std::size_t>> representative;  // (s, t) of each class
  std::vector<std::uint32_t> classes_by_length;
  // Sourced Segs (drops only): one class per (class of source..t, s - source), numbered in
  // drop_class_of[(source * n + s) * n + t], with a representative (source, s, t) each.
  std::vector<std::uint32_t> drop_class_of;
  std::vector<std::array<std::size_t, 3>> drop_representative;
  std::vector<std::uint32_t> drop_classes_by_length;
  // Every hidden layer alike but for layer 0's cost: what the lattice solver's hulls need.
  bool uniform = false;

  std::vector<std::size_t> min_peak;  // per column: the smallest peak of any schedule (kInfinite: no such column)

  std::size_t input_bytes(std::size_t s) const { return s == 0 ? 0 : bytes[s - 1]; }
  // Whether a sub-problem starting at s may keep its input as a pre-activation only.
  bool derivable_input(std::size_t s) const { return derives && s > 0 && derive_cost[s - 1] != kInfinite; }
  // The derive of a derived part's input, paid where it starts without the instance just made.
  std::size_t input_derive_cost(const Part& part) const { return part.derived ? derive_cost[part.s - 1] : 0; }
  bool needs_tape(std::size_t j) const { return tape_of[j] != SavedForBackward::nothing; }
  bool pre_tape(std::size_t j) const { return tape_of[j] == SavedForBackward::pre_activation; }
  std::size_t cost_between(std::size_t first, std::size_t end) const {  // layers [first, end)
    return cost_before[end] - cost_before[first];
  }
  // Seg(s, t, tape)'s cost with unlimited memory: every layer s..t-1 once, and layer t unless
  // its tape is kept. No schedule of it costs less.
  std::size_t seg_min_cost(std::size_t s, std::size_t t, bool tape) const {
    return cost_between(s, t) + (needs_tape(t) && !tape ? cost[t] : 0);
  }
  // Kept across the right part of a split at k: a separate tape (GELU's pre-activation, a block's)
  // kept for the left part's backward.
  std::size_t kept_pre_bytes(std::size_t k, bool tape) const { return tape && pre_tape(k - 1) ? tape_bytes[k - 1] : 0; }
  // Live at prefix op j (s <= j <= k-1) besides the parent's input and gradient: outputs of j-1, j
  // and j's forward scratch.
  std::size_t prefix_pair(std::size_t s, std::size_t j) const {
    return (j > s ? bytes[j - 1] : 0) + bytes[j] + forward_scratch[j];
  }
  // max over s <= j < k-1 of prefix_pair(s, j): what a prefix s..k-1 holds before its last op.
  std::size_t prefix_running(std::size_t s, std::size_t k) const;
  // Re-making the input of a part that starts at s from source: the recomputes source..s-1, and
  // the most they hold at once besides source-1's output (held outside).
  std::size_t rederive_cost(std::size_t source, std::size_t s) const { return cost_between(source, s); }
  std::size_t rederive_running(std::size_t source, std::size_t s) const {
    return std::max(prefix_running(source, s), prefix_pair(source, s - 1));
  }
  // Top(s) without a checkpoint: forward s..n-1 (input and output live), then the loss
  // (prediction and its gradient), with the input of s kept throughout.
  // With `derived`, the input is live only at forward(s).
  std::size_t first_pass_peak(std::size_t s, bool derived = false) const;

  std::size_t seg_columns() const { return representative.size() * 2; }
  std::size_t derived_base() const { return seg_columns() + n; }
  std::size_t drop_base() const { return derived_base() * (derives ? 2 : 1); }
  std::size_t columns() const { return drop_base() + (drops ? drop_representative.size() * 2 + n * n : 0); }
  // source: kInfinite, or (drops only, never with derived) where the input is re-made from.
  Part seg_part(std::size_t s, std::size_t t, bool tape, bool derived = false, std::size_t source = kInfinite) const {
    return seg_part_of(class_of[s * n + t], s, t, tape, derived, source);
  }
  // The same Part, its class looked up along t (faster where s varies for one t).
  Part seg_part_by_end(std::size_t s, std::size_t t, bool tape, bool derived = false,
                       std::size_t source = kInfinite) const {
    return seg_part_of(class_of_end[t * n + s], s, t, tape, derived, source);
  }
  Part top_part(std::size_t s, bool derived = false, std::size_t source = kInfinite) const {
    const std::size_t column = source != kInfinite ? drop_base() + drop_representative.size() * 2 + source * n + s
                                                   : seg_columns() + s + (derived ? derived_base() : 0);
    return Part{s, n - 1, false, true, derived, source, column};
  }
  // Where a right part starting at k re-makes its input from: none without drops or in a derived
  // split, the parent's source where the split drops the parent's input, else the parent's input.
  std::size_t right_source(const Part& parent, bool derived_split, bool drop) const {
    if (!drops || derived_split || parent.derived) return kInfinite;
    return drop ? parent.source : parent.s;
  }

  // Every sub-problem, each after those its splits read: the classes by length (without a tape,
  // then with one where layer t needs it; then the same derived, where the input is derivable),
  // then Top(n-1) down to Top(0), each followed by its derived twin.
  // Sourced ones (drops) after the others of their length, and each Top(s) from every source.
  template <typename Visit>
  void for_each_part_bottom_up(Visit&& visit) const {
    std::size_t next_drop = 0;
    auto visit_sourced_shorter_than = [&](std::size_t span) {  // those with t - s < span
      for (; next_drop < drop_classes_by_length.size(); ++next_drop) {
        const auto [source, s, t] = drop_representative[drop_classes_by_length[next_drop]];
        if (t - s >= span) return;
        visit(seg_part(s, t, false, false, source));
        if (needs_tape(t)) visit(seg_part(s, t, true, false, source));
      }
    };
    for (std::uint32_t c : classes_by_length) {
      const auto [s, t] = representative[c];
      visit_sourced_shorter_than(t - s);
      for (bool derived : {false, true}) {
        if (derived && !derivable_input(s)) continue;
        visit(seg_part(s, t, false, derived));
        if (needs_tape(t)) visit(seg_part(s, t, true, derived));
      }
    }
    visit_sourced_shorter_than(n);
    for (std::size_t s = n; s-- > 0;) {
      visit(top_part(s));
      if (derivable_input(s)) visit(top_part(s, true));
      if (drops)
        for (std::size_t source = 0; source < s; ++source) visit(top_part(s, false, source));
    }
  }

 private:
  Part seg_part_of(std::uint32_t c, std::size_t s, std::size_t t, bool tape, bool derived, std::size_t source) const {
    tape = tape && needs_tape(t);  // the flag only matters for layers that need a tape
    const std::size_t column =
        source != kInfinite ? drop_base() + std::size_t{drop_class_of[(source * n + s) * n + t]} * 2 + (tape ? 1 : 0)
                            : std::size_t{c} * 2 + (tape ? 1 : 0) + (derived ? derived_base() : 0);
    return Part{s, t, tape, false, derived, source, column};
  }
  void read_layers(const Chain& chain, bool count_gradients);
  void tabulate_pairs();
  void find_classes();
  void find_drop_classes();
  void find_min_peaks();
};

}  // namespace egc::budget_dp
