// make_plan: the one entry point from what the user asked for to a finished Plan.
#pragma once

#include "planner/model_spec.h"
#include "planner/plan.h"
#include "planner/schedule.h"

namespace egc {

// Throws UsageError for a spec that cannot be planned (zero sizes, overflowing byte counts).
Plan make_plan(const ModelSpec& model, const StepContext& context, const PlanSpec& spec);

}  // namespace egc
