// The recursive budget solver: its memo of solved memory intervals, and the recursion through
// best_option (budget_split.h) with itself answering every part.
#include "planner/budget_recursive.h"

#include <algorithm>

#include "planner/budget.h"

namespace egc::budget_dp {

void Memo::insert(std::size_t memory, const Value& value) {
  auto it = std::lower_bound(entries.begin(), entries.end(), memory, ends_below);
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

RecursiveSolver::RecursiveSolver(const BudgetChain& chain) : chain_(chain), memo_(chain.columns()) {}

void RecursiveSolver::check_limits() {
  if (entries_ > max_entries_) throw PlanningLimitError("its tables reached their limit");
  if (++solved_ % 1024 == 0 && std::clock() > deadline_) throw PlanningLimitError("it ran out of time");
}

Value RecursiveSolver::solve_anew(const Part& part, std::size_t memory) {
  check_limits();
  Memo& memo = memo_[part.column];
  Value best = best_option(chain_, part, memory,
                           [this](const Part& sub, std::size_t sub_memory) { return solve(sub, sub_memory); });
  best.solved_at = memory;
  const std::size_t before = memo.entries.size();
  memo.insert(memory, best);
  entries_ += memo.entries.size() - before;
  return *memo.find(memory);  // an equally cheap value solved before may stand for it
}

std::vector<Value> unlimited_memory_optima(const BudgetChain& chain, RecursiveSolver& solver) {
  std::vector<Value> optima(chain.columns(), Value{});
  chain.for_each_part_bottom_up([&](const Part& part) { optima[part.column] = solver.solve(part, kInfinite); });
  return optima;
}

}  // namespace egc::budget_dp
