// make_plan: the one entry point from what the user asked for to a finished Plan; and the
// alternatives a fit check may suggest instead.
#pragma once

#include <vector>

#include "planner/model_spec.h"
#include "planner/plan.h"
#include "planner/schedule.h"

namespace egc {

// Throws UsageError for a spec that cannot be planned (zero sizes, overflowing byte counts).
Plan make_plan(const ModelSpec& model, const StepContext& context, const PlanSpec& spec);

// The plans a fit failure may suggest: none, sqrtn, every:K for K = 2, 4, 8, ... below the
// number of layers, and auto's choice where one fits the memory limit. A plan whose arena is over
// a --max-memory limit is left out: the user ruled it out.
std::vector<Plan> fit_candidates(const ModelSpec& model, const StepContext& context);

}  // namespace egc
