// The lattice budget solver: bottom-up over tables of the memory levels budget - i * unit,
// skipping levels a sub-problem cannot be asked about; on uniform chains it bounds each split by
// lower convex hulls of the parts' costs and evaluates only the splits that could be cheaper.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "planner/budget_chain.h"
#include "planner/budget_split.h"
#include "planner/lower_hull.h"

namespace egc::budget_dp {

// The tables for one budget: level i is memory budget - i * unit. A column is saturated (its
// unlimited-memory optimum) at levels below `first`, infeasible or never asked about from `end`
// on, and solved in between.
struct LatticeTables {
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
};

class LatticeSolver {
 public:
  // `chain` and `saturated` (unlimited_memory_optima) must outlive the solver.
  LatticeSolver(const BudgetChain& chain, const std::vector<Value>& saturated);

  // Fills the tables for `budget`; false, leaving them as they were, when they would need more
  // than max_entries entries, or when the chain has drops (BudgetChain::drops).
  bool solve(std::size_t budget, std::size_t max_entries);
  // A sub-problem's optimum within `memory`, read from the tables of the last solve.
  Value value(const Part& part, std::size_t memory) const { return column_value(part.column, memory); }

 private:
  // Uniform chains (every hidden layer alike but for layer 0's FLOPs): sub-chains fall into
  // families by length, whose costs at one memory level are nearly convex in the length
  // (Revolve's structure). Each split is bounded by the families' lower convex hulls.
  // The derived families are the op-level parts (input kept as its pre-activation only).
  enum Family : std::uint8_t {
    prefix,
    interior,
    suffix,
    top_family,
    interior_derived,
    suffix_derived,
    top_derived,
    no_family
  };

  // The family of the same sub-chains derived (a prefix, from the batch, has none).
  static constexpr Family derived_family(Family family) {
    switch (family) {
      case interior: return interior_derived;
      case suffix: return suffix_derived;
      case top_family: return top_derived;
      default: return no_family;
    }
  }
  Value column_value(std::size_t column, std::size_t memory) const;
  // value() as the callable that the split helpers ask about parts.
  auto part_values() const {
    return [this](const Part& part, std::size_t memory) { return value(part, memory); };
  }
  void find_families();
  std::vector<std::size_t> reach_by_column(std::size_t unit) const;
  void fill_level(std::size_t level);
  Value solve_part(const Part& part, std::size_t memory);
  Value best_split_uniform(const Part& parent, std::size_t memory);
  LowerHull& hull(Family family, bool tape, std::size_t level) {
    return hulls_[(static_cast<std::size_t>(family) * 2 + (tape ? 1 : 0)) * tables_.levels + level];
  }

  const BudgetChain& chain_;
  const std::vector<Value>& saturated_;  // per column
  std::vector<Family> family_;           // per column
  std::vector<std::size_t> length_;      // per column: layers of the sub-chain
  LatticeTables tables_;
  std::vector<std::size_t> end_;        // per column: where infeasibility starts, before reach
  std::vector<LowerHull> hulls_;        // [(family * 2 + tape) * levels + level]; top: tape 0
  std::vector<std::uint32_t> hints_;    // [column * 3 + option]: the last minimiser of the bound
};

}  // namespace egc::budget_dp
