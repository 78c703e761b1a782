// The recursive budget solver: its memo of solved memory intervals, and the recursion through
// best_option (budget_split.h) with itself answering every part.
#include "planner/budget_recursive.h"

#include <algorithm>

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

Value RecursiveSolver::solve_anew(const Part& part, std::size_t memory) {
  Memo& memo = memo_[part.column];
  Value best = best_option(chain_, part, memory,
                           [this](const Part& sub, std::size_t sub_memory) { return solve(sub, sub_memory); });
  best.solved_at = memory;
  memo.insert(memory, best);
  return *memo.find(memory);  // an equally cheap value solved before may stand for it
}

std::vector<Value> unlimited_memory_optima(const BudgetChain& chain, RecursiveSolver& solver) {
  std::vector<Value> optima(chain.columns(), Value{});
  chain.for_each_part_bottom_up([&](const Part& part) { optima[part.column] = solver.solve(part, kInfinite); });
  return optima;
}

}  // namespace egc::budget_dp
