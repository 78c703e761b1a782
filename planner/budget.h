// Memory-budget plans: among the persistent multi-level checkpoint schedules of the chain, the
// one with the least recomputation (predicted time, or forward FLOPs: --objective) whose
// activation peak fits a byte budget, found by an exact dynamic program over sub-chains (Revolve
// / rotor style, counted to the byte).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "planner/chain.h"
#include "planner/errors.h"
#include "planner/model_spec.h"
#include "planner/plan.h"
#include "planner/schedule.h"

namespace egc {

// The schedule space ("persistent schedules"), as sequences of ScheduleBuilder calls:
//  1. forward(0), ..., forward(n-1), loss(); then for g = n-1 down to 0 a window and
//     backward(g); then update().
//  2. A window is empty or one run of recomputes of consecutive layers c+1, c+2, ..., e that
//     starts from the latest instance of layer c's output (c = -1: the batch) and ends at
//     e = g-1 (the input of backward(g)) or e = g (what backward(g) needs of layer g: its output
//     for relu/tanh, its pre-activation for GELU; never for the identity output layer).
//  3. keep_tape is set exactly on the last forward/recompute of a GELU layer before its backward.
//  4. Persistence: an output instance that a recompute reads in a later window than the one that
//     made it (the first pass and the loss are one window) is the one backward(layer+1) reads:
//     a checkpoint, once used to recompute, is kept until its layer's gradient is done.
//  5. Op-level, under --objective time (BudgetPlanner::for_objective): a checkpoint instance of
//     an output_derivable layer (GELU; tanh with dropout) made keeping its pre-activation is
//     either held until its last reader, or read only in the window that made it and re-derived
//     (a derive op, priced in picoseconds like a recompute) before its first read in each later
//     window, its pre-activation alone kept between.
//  6. Drop-and-re-derive, under --objective time on chains of up to PlanningLimits::drop_units
//     units: a checkpoint may be dropped after a window that reads it and re-made, before the
//     next window that reads it, by recomputing it from the nearest earlier checkpoint still held
//     (or the batch); the checkpoints that run passes were dropped too and die again at once.
//     In the dynamic program (budget_split.h): a split may drop its parent's input across its
//     right part.
// Memory is what the finished Plan counts: activation_peak_bytes, every live activation,
// recomputed copy, pre-activation and activation gradient at every op, 256-byte footprints.
// Cost is the sum over the recompute ops of their unit's cost (planner/recompute_cost.h): with
// FLOPs, Plan::recompute_flops; with picoseconds, the plan's predicted_step_ms less none's per
// micro-batch (derive ops included). The dynamic program's optimum over this space is exact
// (tests compare it with an exhaustive search of the space); schedules outside it, such as a
// checkpoint re-made inside a window that dropped it and held from there, can be cheaper.

// What a budget bounds: the activation peak (Plan::activation_peak_bytes: budget:SIZE), or with
// per-layer updates the activations and the parameter gradients each backward holds together
// (the plan's largest live bytes less its persistent ones: what auto fits to the arena).
enum class BudgetMemory { activations, activations_and_gradients };

struct BudgetSchedule {
  // The peak the budget bounds: Plan::activation_peak_bytes of the built plan, or with
  // activations_and_gradients, its live_peak_bytes less its persistent bytes.
  std::size_t activation_peak_bytes = 0;
  std::size_t recompute_flops = 0;        // equals Plan::recompute_flops
  std::size_t cost = 0;                   // the objective's: sum of the unit costs of its recomputes
  std::vector<ScheduleCall> calls;        // forward/recompute/loss/backward; the update is implied
};

// Two exact solvers of the same recurrence. recursive: top-down over the sub-problems a budget
// reaches, memoising solved memory intervals; any chain. lattice: bottom-up over tables of the
// memory levels budget - i * unit, where unit divides every hidden layer's footprint (so every
// memory a sub-problem is asked about is a level), skipping levels a sub-problem cannot be asked
// about; on equal widths it bounds each split by lower convex hulls of the parts' costs and
// evaluates only the splits that could be cheaper. automatic: lattice for equal hidden widths
// when its tables fit the limit, recursive otherwise; both solve the op-level space too (the
// lattice with hulls of the derived families).
enum class BudgetSolver { automatic, lattice, recursive };

// What planning one budget may take: the solver's tables, and the recursive solver's processor
// time (the lattice's time is bounded by its tables). Equal widths plan within them up to 4,096
// layers; unequal widths, whose sub-chains are all distinct, up to about 128 (README, "Limits").
// Under the time objective the op-level space (derives) is searched on chains of up to
// op_level_units units; longer ones are planned layer-level: on equal GELU widths the op-level
// lattice takes up to 0.7 s at 513 units, 4.8 s at 1,025 and 123 s at 4,097 (README, "Limits"),
// where the layer-level one stays within 2 s at 1,025 units.
// Drop-and-re-derive (6. above) is searched on chains of up to drop_units units: its sub-problems
// grow with the cube of the units; on random unequal widths planning takes 0.08 s at 32 units,
// 5 s at 48 and 43 s at 64, against 0.002, 0.09 and 0.6 s without (README, "Limits").
struct PlanningLimits {
  double seconds = 120;
  std::size_t table_bytes = std::size_t{1} << 30;
  std::size_t op_level_units = 513;
  std::size_t drop_units = 32;
};

// A chain the budget planner cannot plan within its PlanningLimits. The message says which
// limit, the chain's size, and the plans that can.
class PlanningLimitError : public UsageError {
 public:
  using UsageError::UsageError;
};

// Solves for any number of budgets on one chain; the sub-chain tables are shared between them.
class BudgetPlanner {
 public:
  // Minimises recomputed FLOPs. Throws UsageError when byte or FLOP totals of the chain would
  // overflow 64 bits, and PlanningLimitError when solving it (here, and in every solve) goes
  // past `limits`.
  explicit BudgetPlanner(const Chain& chain, PlanningLimits limits = {});
  // Minimises the sum of unit_cost[j] over the recomputes (one per unit: unit_recompute_costs)
  // within a budget on `memory`.
  // With derive_cost (per unit, kInfinite where its output is not derivable: unit_derive_costs),
  // the space is the op-level one: a checkpoint may be kept as its pre-activation only. With
  // drops, checkpoints may be dropped and re-derived (6. above).
  BudgetPlanner(const Chain& chain, std::vector<std::size_t> unit_cost,
                BudgetMemory memory = BudgetMemory::activations, PlanningLimits limits = {},
                std::vector<std::size_t> derive_cost = {}, bool drops = false);
  // The planner of context.objective: recompute costs from unit_recompute_costs, and under the
  // time objective the op-level space with unit_derive_costs, with drops up to limits.drop_units.
  static BudgetPlanner for_objective(const Chain& chain, const ModelSpec& model, const StepContext& context,
                                     BudgetMemory memory = BudgetMemory::activations, PlanningLimits limits = {});
  ~BudgetPlanner();
  BudgetPlanner(BudgetPlanner&&) noexcept;
  BudgetPlanner& operator=(BudgetPlanner&&) noexcept;

  // The smallest activation peak of any schedule in the space: the smallest feasible budget.
  std::size_t min_activation_peak() const;
  // A least-recompute schedule with activation peak <= budget (among equally cheap ones, the
  // first the solver finds); nullopt when budget < min_activation_peak().
  std::optional<BudgetSchedule> solve(std::size_t budget, BudgetSolver solver = BudgetSolver::automatic);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The budget plan as a finished Plan, minimising context.objective. Throws UsageError when the budget is infeasible, stating
// the smallest feasible budget ("<flag text>: SIZE (...) is below the smallest feasible
// activation peak for this model, ...").
// PlanningLimitError when the chain is beyond `limits` ("--plan <name>: the budget planner ...").
Plan build_budget_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                       std::size_t budget_bytes, const std::string& name, PlanningLimits limits = {});

// The UsageError message for a budget below the smallest feasible one.
std::string infeasible_budget_message(const std::string& plan_text, std::size_t budget_bytes,
                                      std::size_t min_feasible_bytes);

}  // namespace egc
