// The budget recursion: a sub-problem's value, its base case, and one split (its peak, cost and
// choice), the single helper that every solver and the smallest-peak pass use; the search over
// a sub-problem's splits in increasing order of a bound on their cost.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "planner/budget_chain.h"

namespace egc::budget_dp {

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
// keeps across it (the parent's input, a separate tape kept for the left part) is added by the
// parent. A prefix op recompute(j) holds the parent's input, grad_act.t (+ tape), the outputs of
// j-1 and j, j's forward scratch, and at j = k-1 a kept separate tape. Sub-chains with identical
// input size and units (equal widths) are one class and share results. Per unit (BudgetChain):
// a its output (= its gradient), T its tape (a itself for relu/tanh), F and B its forward and
// backward scratch, G the input gradient its backward makes (x, the input's size; 0 at unit 0
// and for a residual block, which adds it to grad_act.t in place), and where counted its
// parameter gradients, held by its backward.
//
// Op-level (derive costs given, --objective time): a split at k whose k-1 keeps its tape and is
// output_derivable may be `derived`: the right part does not hold layer k-1's output, only the
// parent's pre-activation of k-1; its first read is of the instance the prefix just made, and
// every later window that reads it derives it first. A derived Seg or Top has the same base peak
// and cost; in its splits the input counts at prefix op s only and nothing is held across the
// right part; its left part is derived too and pays one derive at its start (as does a derived
// Top's rest after the first pass, whose input is live only at forward(s)). A derive op holds
// less than the op after it, which reads what it made.
//
// Drop-and-re-derive (BudgetChain::drops): a sub-problem whose input has a source (the nearest
// input of an enclosing part that is held while it runs; the batch counts) may drop its input
// across a split's right part: the input is live at prefix op s only, nothing of it is held
// across the right part, and before the left part it is re-made by recomputing source..s-1
// (paid there; that run holds grad_act.(k-1), a kept tape of k-1 and its own outputs). The right
// part of a split has the parent's input as its source, or the parent's source where the split
// drops; a derived part, and the right parts of a derived split or parent, have none.
//
// Optimum per (class, memory M): least cost over schedules with peak <= M. Splits are tried in
// increasing order of a lower bound on their cost (the unlimited-memory cost of both parts plus
// the prefix), stopping once the bound reaches the best found.

// A sub-problem's solution within some memory: its cost, peak and first choice.
struct Value {
  std::size_t cost = kInfinite;
  std::size_t peak = kInfinite;
  std::uint32_t choice = 0;  // split_choice(s, split) for a split, 0 for a base or Top's no-checkpoint
  // The memory the choice was made for: its parts were asked about this less what is kept
  // across them, so the reconstruction asks the same questions and gets the same answers.
  std::size_t solved_at = 0;
  bool feasible() const { return cost != kInfinite; }
  // Least recomputation only: among equal costs the first found stays (what a solver finds
  // first is deterministic, the peak of the plan it returns is what the plan measures).
  bool better_than(const Value& other) const { return cost < other.cost; }
};

// One split of a parent: at k, keeping layer k-1's tape for the left part (`kept`), and with
// `derived` (op-level, only with kept and a derivable k-1) layer k-1's output not held across the
// right part, which re-derives it from the kept pre-activation where it reads it. With `drop`
// (a sourced parent only) the parent's input is not held across the right part and is re-made
// from its source before the left part.
struct Split {
  std::size_t k = 0;
  bool kept = false;
  bool derived = false;
  bool drop = false;
};

inline std::uint32_t split_choice(std::size_t s, const Split& split) {
  return static_cast<std::uint32_t>((split.k - s) << 3 | (split.drop ? 4 : 0) | (split.derived ? 2 : 0) |
                                    (split.kept ? 1 : 0));
}
inline Split split_of(std::size_t s, std::uint32_t choice) {
  return Split{s + (choice >> 3), (choice & 1) != 0, (choice & 2) != 0, (choice & 4) != 0};
}

// Seg(t, t, tape): recompute t unless its tape is kept or not needed, then backward(t).
inline Value base_value(const BudgetChain& chain, std::size_t t, bool tape) {
  const std::size_t x = chain.input_bytes(t), a = chain.bytes[t];
  Value v;
  v.cost = 0;
  // backward(t): its input, its tape, grad_act.t, the new grad_act.(t-1), its scratch and, where
  // counted, its parameter gradients (its update follows and holds a subset of these).
  v.peak = x + chain.grad_input_bytes[t] + a + chain.tape_bytes[t] + chain.backward_scratch[t] +
           chain.parameter_gradients[t];
  if (chain.needs_tape(t) && !tape) {
    // recompute(t): input, grad_act.t, the new output, its forward scratch and, where separate,
    // the new tape.
    v.peak = std::max(v.peak, x + 2 * a + chain.forward_scratch[t] + (chain.pre_tape(t) ? chain.tape_bytes[t] : 0));
    v.cost = chain.cost[t];
  }
  return v;
}

// A split's peak from its parts' peaks: the prefix run, then the right part with the parent's
// input and a kept pre-activation live across it, then the left part.
struct SplitPeaks {
  std::size_t prefix = 0;
  std::size_t across_right = 0;
  std::size_t with(std::size_t right_peak, std::size_t left_peak) const {
    return std::max({prefix, across_right + right_peak, left_peak});
  }
};

// Top(s) with no checkpoint from s on: the first pass and the loss, then the rest,
// Seg(s, n-1, no tape) (derived like Top(s), after a derive of its input).
inline Part no_checkpoint_rest(const BudgetChain& chain, const Part& top) {
  return chain.seg_part(top.s, chain.n - 1, false, top.derived, top.source);
}
inline std::size_t no_checkpoint_peak(const BudgetChain& chain, const Part& top, std::size_t rest_peak) {
  return std::max(chain.first_pass_peak(top.s, top.derived), rest_peak);
}

// The splits of one parent, a Seg with s < t or a Top: the split at k (s < k <= t) runs the
// prefix s..k-1 (a recompute run, or for Top the free first pass) keeping k-1's output (and its
// tape when `kept`), then the right part (Seg(k, t, tape), or Top(k); derived with a derived
// split), then the left part Seg(s, k-1, kept), derived like the parent. A derived parent holds no
// input: it reads it at prefix op s only (the instance its parent's prefix just made, or one
// derived before its first op: its left part pays that derive).
class Splits {
 public:
  Splits(const BudgetChain& chain, const Part& parent)
      : chain_(chain),
        parent_(parent),
        input_(parent.derived ? 0 : chain.input_bytes(parent.s)),
        // Live through a recompute run: grad_act.t and a kept tape; through the first pass, nothing.
        gradient_(parent.top ? 0 : chain.bytes[parent.t] + (parent.tape ? chain.tape_bytes[parent.t] : 0)),
        left_derive_(chain.input_derive_cost(parent)),
        rederive_(parent.sourced() ? chain.rederive_cost(parent.source, parent.s) : 0) {}

  Part right(const Split& split) const {
    const std::size_t source = chain_.right_source(parent_, split.derived, split.drop);
    return parent_.top ? chain_.top_part(split.k, split.derived, source)
                       : chain_.seg_part_by_end(split.k, parent_.t, parent_.tape, split.derived, source);
  }
  Part left(const Split& split) const {
    return chain_.seg_part(parent_.s, split.k - 1, split.kept, parent_.derived, parent_.source);
  }
  // The prefix's recomputes, the derive of a derived parent's input before its left part, and
  // where the split drops the input, its re-make.
  std::size_t prefix_cost(const Split& split) const {
    return (parent_.top ? 0 : chain_.cost_between(parent_.s, split.k)) + left_derive_ + drop_cost(split);
  }
  // What a drop adds to a split's cost.
  std::size_t drop_cost(const Split& split) const { return split.drop ? rederive_ : 0; }
  // Live across the right part: the parent's input (unless derived or dropped) and a kept
  // pre-activation. The right part is asked about the parent's memory less this.
  std::size_t across_right(const Split& split) const {
    return (split.drop ? 0 : input_) + chain_.kept_pre_bytes(split.k, split.kept);
  }
  // `running` is prefix_running(s, k).
  SplitPeaks peaks(const Split& split, std::size_t running) const {
    const std::size_t k = split.k, s = parent_.s;
    const std::size_t p = chain_.kept_pre_bytes(k, split.kept);
    if (!parent_.derived && !split.drop)
      return SplitPeaks{input_ + gradient_ + std::max(running, chain_.prefix_pair(s, k - 1) + p), across_right(split)};
    // The input is live at prefix op s only.
    const std::size_t first = chain_.input_bytes(s) + chain_.prefix_pair(s, s) + (k - 1 == s ? p : 0);
    const std::size_t last = k - 1 > s ? chain_.prefix_pair(s, k - 1) + p : 0;
    SplitPeaks peaks{gradient_ + std::max({first, running, last}), across_right(split)};
    if (split.drop)  // the re-make, after backward(k): grad_act.(k-1), a kept tape of k-1, its run
      peaks.prefix = std::max(peaks.prefix, chain_.bytes[k - 1] + (split.kept ? chain_.tape_bytes[k - 1] : 0) +
                                                chain_.rederive_running(parent_.source, s));
    return peaks;
  }

  // Calls visit(split, running) for every split in the order of their cost bounds but for
  // drops, (k, derived), then dropping, (k, kept), then dropping, (k, neither), then dropping,
  // (k + 1, derived), ..., with running = prefix_running(s, k), until visit returns false.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    const bool can_drop = parent_.sourced();
    std::size_t running = 0;
    for (std::size_t k = parent_.s + 1; k <= parent_.t; ++k) {
      for (int option = 0; option < 6; ++option) {
        const Split split{k, option < 4, option < 2, option % 2 == 1};
        if (split.kept && !chain_.needs_tape(k - 1)) continue;
        if (split.derived && !chain_.derivable_input(k)) continue;
        if (split.drop && !can_drop) continue;
        if (!visit(split, running)) return;
      }
      running = std::max(running, chain_.prefix_pair(parent_.s, k - 1));
    }
  }

  // The split within `memory`, where value(part, memory') is a part's optimum. Infeasible,
  // or no better than `best` as soon as that is certain.
  template <typename PartValue>
  Value value(std::size_t memory, const Split& split, std::size_t running, const Value& best,
              PartValue&& part_value) const {
    const SplitPeaks split_peaks = peaks(split, running);
    const Part right_part = right(split), left_part = left(split);
    if (split_peaks.with(chain_.min_peak[right_part.column], chain_.min_peak[left_part.column]) > memory)
      return Value{};
    const std::size_t prefix_costs = prefix_cost(split);
    const Value right_value = part_value(right_part, memory - split_peaks.across_right);
    // The left part costs at least its unlimited-memory cost.
    if (best.feasible() &&
        prefix_costs + right_value.cost + chain_.seg_min_cost(parent_.s, split.k - 1, split.kept) >= best.cost)
      return Value{};
    const Value left_value = part_value(left_part, memory);
    Value candidate;
    candidate.cost = prefix_costs + right_value.cost + left_value.cost;
    candidate.peak = split_peaks.with(right_value.peak, left_value.peak);
    candidate.choice = split_choice(parent_.s, split);
    return candidate;
  }

 private:
  const BudgetChain& chain_;
  const Part parent_;
  const std::size_t input_;
  const std::size_t gradient_;
  const std::size_t left_derive_;
  const std::size_t rederive_;
};

// The best split of `parent` (a Seg with s < t, or a Top) within `memory` (>= its smallest
// peak), trying every split in increasing order of a lower bound on its cost.
template <typename PartValue>
Value best_split(const BudgetChain& chain, const Part& parent, std::size_t memory, PartValue&& value) {
  // The prefix and the right part of a Seg cost at least this; a Top's first pass is free and
  // Top(k) can cost nothing.
  // A derived parent's left part also pays its input's derive.
  const std::size_t base_bound =
      (parent.top ? 0 : chain.seg_min_cost(parent.s, parent.t, parent.tape)) + chain.input_derive_cost(parent);
  const Splits splits(chain, parent);
  Value best;
  splits.for_each([&](const Split& split, std::size_t running) {
    // Bounds rise along the splits but for drops: stop at the first that cannot beat the best,
    // skip a drop that cannot.
    const std::size_t bound = base_bound + chain.seg_min_cost(parent.s, split.k - 1, split.kept);
    if (best.feasible() && bound >= best.cost) return false;
    if (best.feasible() && bound + splits.drop_cost(split) >= best.cost) return true;
    const Value candidate = splits.value(memory, split, running, best, value);
    if (candidate.better_than(best)) best = candidate;
    return true;
  });
  return best;
}

// Top(s)'s option of no checkpoint from s on, taken when cheaper than `best`. Its bound, the
// cost of recomputing s..n-2 (and a derived Top's derive of its input), is the largest of
// Top(s)'s options, so it comes last.
template <typename PartValue>
void consider_no_checkpoint(const BudgetChain& chain, const Part& top, std::size_t memory, Value& best,
                            PartValue&& value) {
  const std::size_t derive = chain.input_derive_cost(top);
  if (best.feasible() && chain.seg_min_cost(top.s, chain.n - 1, false) + derive >= best.cost) return;
  const Part rest = no_checkpoint_rest(chain, top);
  if (no_checkpoint_peak(chain, top, chain.min_peak[rest.column]) > memory) return;
  const Value rest_value = value(rest, memory);
  Value candidate;
  candidate.cost = rest_value.cost + derive;
  candidate.peak = no_checkpoint_peak(chain, top, rest_value.peak);
  candidate.choice = 0;
  if (candidate.better_than(best)) best = candidate;
}

// A sub-problem's optimum within `memory` (>= its smallest peak): the base case, or the best of
// its splits (found by search_splits(part, memory)) and, for Top, no checkpoint.
template <typename PartValue, typename SplitSearch>
Value best_option(const BudgetChain& chain, const Part& part, std::size_t memory, PartValue&& value,
                  SplitSearch&& search_splits) {
  if (!part.top && part.s == part.t) return base_value(chain, part.t, part.tape);
  Value best = search_splits(part, memory);
  if (part.top) consider_no_checkpoint(chain, part, memory, best, value);
  return best;
}

template <typename PartValue>
Value best_option(const BudgetChain& chain, const Part& part, std::size_t memory, PartValue&& value) {
  return best_option(chain, part, memory, value, [&](const Part& parent, std::size_t parent_memory) {
    return best_split(chain, parent, parent_memory, value);
  });
}

}  // namespace egc::budget_dp
