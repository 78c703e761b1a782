// What one recompute of each unit costs a budget plan's objective (--objective), in the integer
// units of the budget dynamic program: forward FLOPs, or the predicted time of the recompute op
// in picoseconds, priced from the same kernels and device profile as Plan::predicted_step_ms.
#pragma once

#include <cstddef>
#include <vector>

#include "planner/chain.h"
#include "planner/model_spec.h"

namespace egc {

constexpr double kPicosecondsPerMs = 1e9;

// Per unit j, the cost of one recompute(j) under context.objective. For time: the recompute
// without its tape. Why that is the whole difference a schedule makes to the predicted step:
// every other op (backward, loss, update, batch load) is priced the same in every schedule, and
// a layer with a separate tape (GELU, a block) keeps it on exactly its last forward/recompute
// before its backward, so a layer recomputed R >= 1 times runs R + 1 forwards of which one keeps
// the tape, where the plan that keeps everything runs one forward that keeps it: R forwards
// without the tape more. Hence, per micro-batch, the DP's cost of a schedule equals
// (its predicted_step_ms - none's) x kPicosecondsPerMs up to the rounding of each unit's cost.
std::vector<std::size_t> unit_recompute_costs(const Chain& chain, const ModelSpec& model, const StepContext& context);

// Per unit, its forward FLOPs: the FLOPs objective's costs, and what BudgetSchedule::recompute_flops adds up.
std::vector<std::size_t> unit_forward_flops(const Chain& chain);

// Per unit j, the cost of one derive(j) (its output re-derived from its kept pre-activation:
// output_derivable units) in picoseconds, priced like a recompute; kDeriveImpossible for the
// others. Empty under the FLOPs objective: budget plans stay layer-level there.
constexpr std::size_t kDeriveImpossible = static_cast<std::size_t>(-1);
std::vector<std::size_t> unit_derive_costs(const Chain& chain, const ModelSpec& model, const StepContext& context);

// "FLOPs" or "ps": the unit of unit_recompute_costs for `objective`.
const char* recompute_cost_unit(Objective objective);

}  // namespace egc
