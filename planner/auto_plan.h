// --plan auto: the fastest plan (least recomputation) whose whole arena fits the memory limit
// (--max-memory, or the device's free memory less a margin), and why it was chosen.
#pragma once

#include <cstddef>
#include <variant>

#include "planner/chain.h"
#include "planner/errors.h"
#include "planner/model_spec.h"
#include "planner/plan.h"

namespace egc {

// Kept free below the device's free memory: the CUDA context, library handles and other
// processes may still allocate after planning. --max-memory is used as given (no margin).
constexpr std::size_t kDeviceMarginMinimumBytes = std::size_t{256} << 20;
constexpr std::size_t kDeviceMarginPercent = 5;
std::size_t memory_margin(const StepContext& context);

// Keeps everything (none) when its arena fits; otherwise the budget plan (context.objective) for
// a budget of (limit - margin - the step's persistent bytes) on the activations and, with
// per-layer updates, the parameter gradients each backward holds (BudgetMemory), lowered by any
// arena layout gap until the arena fits. Fills Plan::description with the choice and the numbers behind it. Throws
// UsageError when no limit is given, or when even the smallest activation peak does not fit
// (stating the bytes needed and the bytes available).
Plan build_auto_plan(const Chain& chain, const ModelSpec& model, const StepContext& context);
// The same choice, with the UsageError returned rather than thrown where no plan fits: for
// callers to whom that is an answer (the fit check's list of alternatives), not a failure.
std::variant<Plan, UsageError> choose_auto_plan(const Chain& chain, const ModelSpec& model,
                                                const StepContext& context);

}  // namespace egc
