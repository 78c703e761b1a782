// The lattice budget solver: which levels each sub-problem can be asked about, filling the
// tables level by level, and the hull-bounded search over the splits of a uniform chain.
#include "planner/budget_lattice.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "planner/plan.h"

namespace egc::budget_dp {

namespace {

// Splits p = 1 .. length-1 of a uniform parent with one `option` (kept, derived): bound(p) is an exact
// convex lower bound on the split's cost (prefix cost, affine in p, + hull of the right part at
// length length-p + hull of the left part at length p), defined where both hulls cover; outside,
// a part is infeasible. Evaluates the bound's minimiser (found by descent from `hint`, where it
// was one level deeper), then every split whose bound is below the best found: the others
// cannot be cheaper.
template <typename Evaluate, typename Bound>
void hull_search(std::size_t length, int option, const LowerHull& right, const LowerHull& left, Bound&& bound,
                 Evaluate&& evaluate, const Value& best, std::uint32_t& hint) {
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
  evaluate(at, option);
  if (!best.feasible()) {  // the minimiser's split does not fit (a prefix too large): try them all
    for (std::size_t p = low; p <= high; ++p) evaluate(p, option);
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
    if (p != at) evaluate(p, option);
}

LatticeTables::Band band_of(std::size_t budget, std::size_t unit, std::size_t saturated_peak, std::size_t min_peak) {
  LatticeTables::Band b;
  if (min_peak == kInfinite) return b;  // no such column
  b.first = budget >= saturated_peak ? (budget - saturated_peak) / unit + 1 : 0;
  b.end = budget >= min_peak ? (budget - min_peak) / unit + 1 : 0;
  if (b.end < b.first) b.end = b.first;
  return b;
}

}  // namespace

LatticeSolver::LatticeSolver(const BudgetChain& chain, const std::vector<Value>& saturated)
    : chain_(chain), saturated_(saturated) {
  find_families();
}

void LatticeSolver::find_families() {
  family_.assign(chain_.columns(), no_family);
  length_.assign(chain_.columns(), 0);
  if (!chain_.uniform) return;
  for (std::size_t column = 0; column < chain_.seg_columns(); ++column) {
    const auto [s, t] = chain_.representative[column / 2];
    length_[column] = t - s + 1;
    if (t + 1 < chain_.n) family_[column] = s == 0 ? prefix : interior;
    else if (s > 0) family_[column] = suffix;
  }
  for (std::size_t s = 1; s < chain_.n; ++s) {  // Top(0) is no part of any split
    family_[chain_.top_part(s).column] = top_family;
    length_[chain_.top_part(s).column] = chain_.n - s;
  }
  if (!chain_.derives) return;
  // A derived part: a right part of a derived split (never s = 0), or a derived parent's left part.
  for (std::size_t column = 0; column < chain_.derived_base(); ++column) {
    const std::size_t derived = column + chain_.derived_base();
    length_[derived] = length_[column];
    const bool derivable = column < chain_.seg_columns() ? chain_.derivable_input(chain_.representative[column / 2].first)
                                                         : chain_.derivable_input(column - chain_.seg_columns());
    if (!derivable) continue;
    family_[derived] = derived_family(family_[column]);
  }
}

// A sub-problem starting at layer s is asked about the budget less what its ancestors keep
// across it: inputs of layers <= s-2 and separate tapes of layers <= s-1, each once. Deeper
// levels are never asked about. Per column: the number of levels that can be.
std::vector<std::size_t> LatticeSolver::reach_by_column(std::size_t unit) const {
  const std::size_t n = chain_.n;
  std::vector<std::size_t> reach(chain_.columns(), 0);
  std::size_t held = 0;
  for (std::size_t s = 0; s < n; ++s) {
    if (s >= 2) held += chain_.bytes[s - 2];
    if (s >= 1 && chain_.pre_tape(s - 1)) held += chain_.tape_bytes[s - 1];
    const std::size_t reach_of_start = held / unit + 1;
    reach[chain_.top_part(s).column] = reach_of_start;
    for (std::size_t t = s; t < n; ++t) {  // a class: the farthest any of its sub-chains reaches
      const std::size_t column = chain_.seg_part(s, t, false).column;
      reach[column] = reach[column + 1] = std::max(reach[column], reach_of_start);
    }
  }
  // A derived part's ancestors hold no more than those of the same sub-chain held whole.
  if (chain_.derives)
    for (std::size_t column = 0; column < chain_.derived_base(); ++column)
      reach[column + chain_.derived_base()] = reach[column];
  return reach;
}

bool LatticeSolver::solve(std::size_t budget, std::size_t max_entries) {
  if (chain_.drops) return false;  // its levels and hulls know no sourced parts: the recursive solver plans drops
  // Every memory a sub-problem is asked about is the budget less inputs and kept separate
  // tapes of hidden units: a level when the unit divides them all.
  std::size_t unit = 0;
  for (std::size_t j = 0; j + 1 < chain_.n; ++j) {
    unit = std::gcd(unit, chain_.bytes[j]);
    if (chain_.pre_tape(j)) unit = std::gcd(unit, chain_.tape_bytes[j]);
  }
  if (unit == 0) unit = kArenaAlignment;  // a chain of one layer never subtracts anything
  const std::vector<std::size_t> reach = reach_by_column(unit);
  LatticeTables next;
  next.budget = budget;
  next.unit = unit;
  std::vector<std::size_t> end(chain_.columns());
  std::size_t entries = 0;
  for (std::size_t column = 0; column < chain_.columns(); ++column) {
    LatticeTables::Band band = band_of(budget, unit, saturated_[column].peak, chain_.min_peak[column]);
    end[column] = band.end;
    band.end = std::max(band.first, std::min(band.end, reach[column]));
    band.offset = entries;
    entries += band.end - band.first;
    next.levels = std::max(next.levels, band.end);
    next.bands.push_back(band);
  }
  if (entries > max_entries) return false;
  next.values.resize(entries);
  tables_ = std::move(next);
  end_ = std::move(end);
  hulls_.assign(chain_.uniform ? 2 * no_family * tables_.levels : 0, LowerHull{});
  hints_.assign(chain_.uniform ? chain_.columns() * 3 : 0, 1);
  // Less memory first: a right part is asked about a deeper level (or the same one, when nothing
  // is kept across it, and then it is shorter); a left part about the same level, shorter.
  for (std::size_t level = tables_.levels; level-- > 0;) fill_level(level);
  return true;
}

void LatticeSolver::fill_level(std::size_t level) {
  const std::size_t memory = tables_.budget - level * tables_.unit;
  chain_.for_each_part_bottom_up([&](const Part& part) {
    const LatticeTables::Band& band = tables_.bands[part.column];
    const Family family = family_[part.column];
    Value v;
    if (level >= band.first && level < band.end) {
      v = solve_part(part, memory);
      tables_.values[band.offset + level - band.first] = {v.cost, v.peak, v.choice};
    } else if (family != no_family && (level < band.first || level >= end_[part.column])) {
      v = value(part, memory);  // saturated or infeasible; unreachable levels stay out
    }
    if (family != no_family && v.feasible()) hull(family, part.tape, level).append(length_[part.column], v.cost);
  });
}

Value LatticeSolver::column_value(std::size_t column, std::size_t memory) const {
  const Value& saturated = saturated_[column];
  if (memory > tables_.budget) return saturated;  // a part of a saturated value
  const LatticeTables::Band& band = tables_.bands[column];
  const std::size_t level = tables_.level(memory);
  if (level < band.first) return saturated;
  if (level >= band.end) {
    if (level >= end_[column]) return Value{};  // infeasible
    throw std::logic_error("budget lattice: a part asked about a memory it cannot be reached with");
  }
  const LatticeTables::Entry& e = tables_.values[band.offset + level - band.first];
  return Value{e.cost, e.peak, e.choice, tables_.budget - level * tables_.unit};
}

Value LatticeSolver::solve_part(const Part& part, std::size_t memory) {
  if (!chain_.uniform) return best_option(chain_, part, memory, part_values());
  return best_option(chain_, part, memory, part_values(), [this](const Part& parent, std::size_t parent_memory) {
    return best_split_uniform(parent, parent_memory);
  });
}

// Every hidden layer alike: one hull per family, tape and level stands for all the right or
// left parts that a split of `parent` can have.
Value LatticeSolver::best_split_uniform(const Part& parent, std::size_t memory) {
  const std::size_t s = parent.s, length = parent.t - s + 1;
  const std::size_t level = tables_.level(memory);
  const Family right_family = parent.top ? top_family : parent.t == chain_.n - 1 ? suffix : interior;
  const Family left_family = parent.derived ? interior_derived : s == 0 ? prefix : interior;
  const Splits splits(chain_, parent);
  Value best;
  // Options, every hidden layer alike so each applies to all splits or none: derived (kept and the
  // right part derived), kept, neither.
  constexpr Split kOptions[] = {{0, true, true}, {0, true, false}, {0, false, false}};
  auto evaluate = [&](std::size_t p, int option) {
    const Split split{s + p, kOptions[option].kept, kOptions[option].derived};
    const Value candidate = splits.value(memory, split, chain_.prefix_running(s, s + p), best, part_values());
    if (candidate.better_than(best)) best = candidate;
  };
  for (int option = 0; option < 3; ++option) {
    const Split first{s + 1, kOptions[option].kept, kOptions[option].derived};
    if (first.kept && !chain_.needs_tape(s)) continue;
    if (first.derived && !chain_.derivable_input(s + 1)) continue;
    const std::size_t shift = splits.across_right(first);  // every hidden layer alike: the same for every split
    if (shift > memory || tables_.level(memory - shift) >= tables_.levels) continue;
    const Family right_of_split = first.derived ? derived_family(right_family) : right_family;
    const LowerHull& right = hull(right_of_split, parent.tape, tables_.level(memory - shift));
    const LowerHull& left = hull(left_family, first.kept, level);
    auto bound = [&](std::size_t p) {
      const Split split{s + p, kOptions[option].kept, kOptions[option].derived};
      const Fraction prefix_cost{static_cast<Wide>(splits.prefix_cost(split)), 1};
      return add(add(prefix_cost, right.at(length - p)), left.at(p));
    };
    hull_search(length, option, right, left, bound, evaluate, best, hints_[parent.column * 3 + option]);
  }
  return best;
}

}  // namespace egc::budget_dp
