// Three-way plans: `budget:SIZE` with `--host-memory SIZE` (StepContext::host_memory_bytes)
// chooses per layer keep, recompute or offload (planner/offload_model.h) by an exact dynamic
// program minimising the modelled step time with the modelled activation peak within the budget
// and the host arena within the cap, and builds the plan (a segmented schedule with offloads).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "planner/offload_model.h"
#include "planner/schedule.h"
#include "planner/plan.h"

namespace egc {

// Chains longer than this are refused, and chains whose tables outgrow kOffloadMaxStates (the
// states per layer grow with the distinct sums of kept and offloaded bytes: n^2 on equal widths,
// far more on many distinct sizes).
constexpr std::size_t kOffloadMaxLayers = 512;
constexpr std::size_t kOffloadMaxStates = std::size_t{4} << 20;

// The model of `chain` (from its none plan and its plain first forwards, timed by `timer`).
OffloadModel offload_model_of(const Chain& chain, const ModelSpec& model, const StepContext& context,
                              const KernelTimer& timer);

// The least model time over the roles whose model_cost fits both limits; nullopt when none does.
std::optional<std::vector<LayerRole>> solve_offload(const OffloadModel& model, std::size_t budget_bytes,
                                                    std::size_t host_bytes);

// The smallest budget any roles fit within `host_bytes` of host memory (with every layer allowed
// to go there: the smallest with unlimited host memory).
std::size_t min_offload_budget(const OffloadModel& model, std::size_t host_bytes);

// The plan of `roles`: checkpoints at the kept and offloaded layers, those offloaded moved out.
Plan build_roles_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                      const std::vector<LayerRole>& roles, std::string name, std::string description);

// budget:SIZE under context.host_memory_bytes. Throws UsageError naming the smallest feasible
// budget, and what host memory it needs, when the budget is below it.
Plan build_offload_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                        std::size_t budget_bytes, const std::string& name);

}  // namespace egc
