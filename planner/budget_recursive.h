// The recursive budget solver: top-down over the sub-problems that a budget reaches, memoising
// for each sub-problem the memory intervals it has been solved for; any chain.
#pragma once

#include <algorithm>
#include <ctime>
#include <cstddef>
#include <limits>
#include <vector>

#include "planner/budget_chain.h"
#include "planner/budget_split.h"

namespace egc::budget_dp {

// A value solved at memory M with peak p is optimal for every memory in [p, M] (it fits, and
// nothing cheaper fits in more). Disjoint intervals [low, high], sorted by high.
struct Memo {
  struct Entry {
    std::size_t low, high;
    Value value;
  };
  std::vector<Entry> entries;

  static bool ends_below(const Entry& e, std::size_t memory) { return e.high < memory; }
  const Value* find(std::size_t memory) const {
    auto it = std::lower_bound(entries.begin(), entries.end(), memory, ends_below);
    return it != entries.end() && it->low <= memory ? &it->value : nullptr;
  }
  // `value` was solved at `memory`, which no entry covers.
  void insert(std::size_t memory, const Value& value);
};

class RecursiveSolver {
 public:
  explicit RecursiveSolver(const BudgetChain& chain);  // `chain` must outlive the solver

  // What solving may take: once the process has used `deadline` of processor time (std::clock:
  // what the planner itself spent, however loaded the machine), or the memo holds more than
  // `max_entries` entries, solving a new sub-problem throws PlanningLimitError. Unlimited by default.
  void limit(std::clock_t deadline, std::size_t max_entries) {
    deadline_ = deadline;
    max_entries_ = max_entries;
  }
  static constexpr std::size_t kEntryBytes = sizeof(Memo::Entry);

  // The sub-problem's optimum within `memory` (infeasible below its smallest peak). Solved
  // answers are kept, so asking again (as the reconstruction does) costs a lookup; most questions
  // a split asks are such, hence the lookup is inline.
  Value solve(const Part& part, std::size_t memory) {
    if (memory < chain_.min_peak[part.column]) return Value{};
    if (const Value* known = memo_[part.column].find(memory)) return *known;
    return solve_anew(part, memory);
  }

 private:
  Value solve_anew(const Part& part, std::size_t memory);

  void check_limits();

  const BudgetChain& chain_;
  std::vector<Memo> memo_;  // per column
  std::size_t entries_ = 0;  // over all memos
  std::size_t solved_ = 0;   // sub-problems solved anew, to look at the clock every so often
  std::clock_t deadline_ = std::numeric_limits<std::clock_t>::max();
  std::size_t max_entries_ = kInfinite;
};

// Every sub-problem's optimum with unlimited memory, per column (Value{} for no such column),
// solved bottom-up with `solver`.
std::vector<Value> unlimited_memory_optima(const BudgetChain& chain, RecursiveSolver& solver);

}  // namespace egc::budget_dp
