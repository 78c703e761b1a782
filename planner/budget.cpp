// The budget planner's public front: the planner (the chain, both solvers and the choice between
// them), the reconstruction of an optimum as builder calls, and the finished budget Plan.
#include "planner/budget.h"

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <vector>

#include "planner/budget_chain.h"
#include "planner/budget_lattice.h"
#include "planner/budget_recursive.h"
#include "planner/budget_split.h"
#include "planner/errors.h"
#include "planner/recompute_cost.h"
#include "planner/units.h"

namespace egc {

using namespace budget_dp;  // this file is the dynamic program's front
static_assert(kDeriveImpossible == kInfinite, "unit_derive_costs marks underivable units as the DP reads them");

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", seconds);
  return text;
}

// The PlanningLimitError of a chain the solvers gave up on (`reason`: which limit).
PlanningLimitError limit_error(const BudgetChain& chain, const PlanningLimits& limits, const std::string& reason) {
  return PlanningLimitError(
      "the budget planner cannot plan this chain of " + std::to_string(chain.n) + " units (" +
      (chain.uniform ? "equal" : "unequal") + " widths) within its limits of " + seconds_text(limits.seconds) + " of processor time" +
      " and " + format_bytes(limits.table_bytes) + " of tables: " + reason +
      "; plans that can: none, sqrtn, every:K, chen-greedy[:SIZE] (equal widths plan up to 4,096 units, unequal "
      "ones up to about 128)");
}

// Runs `solve` with the recursive solver limited to `limits` from now on; a limit reached becomes
// limit_error.
template <typename Solve>
auto within_limits(const BudgetChain& chain, RecursiveSolver& recursive, const PlanningLimits& limits, Solve&& solve) {
  const double ticks = std::min(limits.seconds * CLOCKS_PER_SEC, 1e18);
  recursive.limit(std::clock() + static_cast<std::clock_t>(ticks), limits.table_bytes / RecursiveSolver::kEntryBytes);
  try {
    return solve();
  } catch (const PlanningLimitError& error) {
    throw limit_error(chain, limits, error.what());
  }
}

}  // namespace

struct BudgetPlanner::Impl {
  PlanningLimits limits;
  BudgetChain chain;
  std::vector<std::size_t> forward_flops;  // per unit: what BudgetSchedule::recompute_flops adds up
  RecursiveSolver recursive;
  std::vector<Value> saturated;  // per column: the optimum with unlimited memory
  LatticeSolver lattice;

  Impl(const Chain& layers, std::vector<std::size_t> unit_cost, BudgetMemory memory,
       const PlanningLimits& planning_limits, std::vector<std::size_t> derive_cost, bool drops)
      : limits(planning_limits),
        chain(layers, std::move(unit_cost), memory == BudgetMemory::activations_and_gradients, std::move(derive_cost),
              drops),
        forward_flops(unit_forward_flops(layers)),
        recursive(chain),
        saturated(within_limits(chain, recursive, limits, [&] { return unlimited_memory_optima(chain, recursive); })),
        lattice(chain, saturated) {}
  Impl(const Impl&) = delete;  // the solvers refer to this chain and these saturated values
  Impl& operator=(const Impl&) = delete;
};

namespace {

// Appends the calls of `part`'s optimum within `memory`, as value(part', memory') gives the
// optimum of it and of every part below it: the same questions the solver answered. A derived
// part that starts without its input just made (a left part, a Top's rest) derives it first; a
// left part whose input was dropped re-makes it from its source.
template <typename PartValue>
void emit(const BudgetChain& chain, const Part& part, std::size_t memory, std::vector<ScheduleCall>& calls,
          PartValue&& value) {
  if (!part.top && part.s == part.t) {
    if (chain.needs_tape(part.t) && !part.tape) calls.push_back({OpKind::recompute, part.t, chain.pre_tape(part.t)});
    calls.push_back({OpKind::backward, part.t, false});
    return;
  }
  const Value v = value(part, memory);
  auto emit_derived_input = [&](const Part& starting) {
    if (starting.derived) calls.push_back({OpKind::derive, starting.s - 1, false});
  };
  if (part.top && v.choice == 0) {  // no checkpoint from s on
    for (std::size_t j = part.s; j < chain.n; ++j) calls.push_back({OpKind::forward, j, false});
    calls.push_back({OpKind::loss, 0, false});
    const Part rest = no_checkpoint_rest(chain, part);
    emit_derived_input(rest);
    emit(chain, rest, v.solved_at, calls, value);
    return;
  }
  const Split split = split_of(part.s, v.choice);
  const OpKind prefix = part.top ? OpKind::forward : OpKind::recompute;
  for (std::size_t j = part.s; j < split.k; ++j)
    calls.push_back({prefix, j, j + 1 == split.k && split.kept && chain.pre_tape(j)});
  const Splits splits(chain, part);
  emit(chain, splits.right(split), v.solved_at - splits.across_right(split), calls, value);
  const Part left = splits.left(split);
  if (split.drop)
    for (std::size_t j = part.source; j < part.s; ++j) calls.push_back({OpKind::recompute, j, false});
  emit_derived_input(left);
  emit(chain, left, v.solved_at, calls, value);
}

// The optimum of the whole chain within `budget`, as value() answers, and its calls.
template <typename PartValue>
BudgetSchedule schedule_within(const BudgetChain& chain, const std::vector<std::size_t>& forward_flops,
                               std::size_t budget, PartValue&& value) {
  const Part whole = chain.top_part(0);
  const Value v = value(whole, budget);
  BudgetSchedule schedule;
  emit(chain, whole, budget, schedule.calls, value);
  schedule.activation_peak_bytes = v.peak;
  schedule.cost = v.cost;
  for (const ScheduleCall& call : schedule.calls)
    if (call.kind == OpKind::recompute) schedule.recompute_flops += forward_flops[call.layer];
  return schedule;
}

}  // namespace

BudgetPlanner::BudgetPlanner(const Chain& chain, PlanningLimits limits)
    : BudgetPlanner(chain, unit_forward_flops(chain), BudgetMemory::activations, limits) {}
BudgetPlanner::BudgetPlanner(const Chain& chain, std::vector<std::size_t> unit_cost, BudgetMemory memory,
                             PlanningLimits limits, std::vector<std::size_t> derive_cost, bool drops)
    : impl_(std::make_unique<Impl>(chain, std::move(unit_cost), memory, limits, std::move(derive_cost), drops)) {}

BudgetPlanner BudgetPlanner::for_objective(const Chain& chain, const ModelSpec& model, const StepContext& context,
                                           BudgetMemory memory, PlanningLimits limits) {
  std::vector<std::size_t> derive_cost;
  if (chain.size() <= limits.op_level_units) derive_cost = unit_derive_costs(chain, model, context);
  // --objective flops keeps its plans byte for byte: the layer-level, persistent space.
  const bool drops =
      context.objective == Objective::time && chain.size() <= std::min(limits.drop_units, kMaxDropUnits);
  return BudgetPlanner(chain, unit_recompute_costs(chain, model, context), memory, limits, std::move(derive_cost),
                       drops);
}
BudgetPlanner::~BudgetPlanner() = default;
BudgetPlanner::BudgetPlanner(BudgetPlanner&&) noexcept = default;
BudgetPlanner& BudgetPlanner::operator=(BudgetPlanner&&) noexcept = default;

std::size_t BudgetPlanner::min_activation_peak() const {
  const BudgetChain& chain = impl_->chain;
  return chain.min_peak[chain.top_part(0).column];
}

std::optional<BudgetSchedule> BudgetPlanner::solve(std::size_t budget, BudgetSolver solver) {
  Impl& impl = *impl_;
  if (budget < min_activation_peak()) return std::nullopt;
  const std::size_t lattice_entries = impl.limits.table_bytes / sizeof(LatticeTables::Entry);
  const bool recursive =
      solver == BudgetSolver::recursive || (solver == BudgetSolver::automatic && !impl.chain.uniform) ||
      !impl.lattice.solve(budget, solver == BudgetSolver::lattice ? kInfinite : lattice_entries);
  if (recursive) {
    // Solved on the first call: every value the reconstruction asks for is a memo hit.
    auto solve_part = [&impl](const Part& part, std::size_t memory) { return impl.recursive.solve(part, memory); };
    return within_limits(impl.chain, impl.recursive, impl.limits,
                         [&] { return schedule_within(impl.chain, impl.forward_flops, budget, solve_part); });
  }
  return schedule_within(impl.chain, impl.forward_flops, budget,
                         [&impl](const Part& part, std::size_t memory) { return impl.lattice.value(part, memory); });
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
                       std::size_t budget_bytes, const std::string& name, PlanningLimits limits) {
  std::optional<BudgetPlanner> planner;
  std::optional<BudgetSchedule> schedule;
  try {
    planner.emplace(BudgetPlanner::for_objective(chain, model, context, BudgetMemory::activations, limits));
    schedule = planner->solve(budget_bytes);
  } catch (const PlanningLimitError& error) {
    throw PlanningLimitError("--plan " + name + ": " + error.what());
  }
  if (!schedule) throw UsageError(infeasible_budget_message(name, budget_bytes, planner->min_activation_peak()));
  return build_schedule(chain, model, context, schedule->calls, name,
                        std::string(context.objective == Objective::time ? "least predicted recompute time"
                                                                         : "least recomputation") +
                            " within an activation budget of " + format_bytes(budget_bytes) +
                            " (multi-level checkpoints, exact dynamic program)");
}

}  // namespace egc
