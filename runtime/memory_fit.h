// Whether a plan fits the device's free memory, checked before anything of the step is
// allocated; when it does not, the error says the bytes needed, the bytes free, and the
// cheapest listed plan (least recomputation) that would fit.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "planner/plan.h"
#include "runtime/backend.h"
#include "runtime/step_memory.h"

namespace egc {

struct PlanOption {
  std::string name;                 // as the user writes it: "none", "sqrtn", "every:4"
  std::size_t bytes = 0;            // what it needs in the chosen allocation mode
  std::size_t recompute_flops = 0;  // its price: the forward work it repeats
};

// The device memory a plan needs: the arena, or in per-buffer mode the largest sum of live
// footprints (each cudaMalloc may round up by the allocation granularity on top).
std::size_t bytes_needed(const Plan& plan, AllocMode mode);
PlanOption plan_option(const Plan& plan, AllocMode mode);

// Throws UsageError naming --plan when needed > free_bytes.
void require_fits(const PlanOption& chosen, std::size_t free_bytes, const std::vector<PlanOption>& listed);

// require_fits with the backend's free memory; nothing where the backend reports none (CPU).
void check_plan_fits(const Plan& chosen, AllocMode mode, Backend& backend, const std::vector<Plan>& listed);
// The same with the planner's fit candidates (planner/make_plan.h) as the list, planned only
// where the backend reports free memory.
void check_plan_fits(const Plan& chosen, AllocMode mode, Backend& backend);

}  // namespace egc
