// make_plan: dispatch from a PlanSpec to the schedule that builds it.
#include "planner/make_plan.h"

#include <stdexcept>
#include <string>

#include "planner/auto_plan.h"
#include "planner/budget.h"
#include "planner/chain.h"
#include "planner/chen_greedy.h"
#include "planner/errors.h"
#include "planner/offload_plan.h"
#include "planner/step_time.h"
#include "planner/units.h"

namespace egc {
namespace {

// A segmented schedule; with spec.derive its op-level variant (with_derived_outputs).
Plan segmented_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                    const std::vector<std::size_t>& checkpoints, const PlanSpec& spec, std::string description) {
  if (!spec.derive)
    return build_segmented_schedule(chain, model, context, checkpoints, spec.text, std::move(description));
  return build_schedule(chain, model, context, with_derived_outputs(chain, segmented_calls(chain, checkpoints)),
                        spec.text,
                        description + "; op-level: outputs of GELU layers re-derived from their kept pre-activations");
}

Plan plan_for(const Chain& chain, const ModelSpec& model, const StepContext& context, const PlanSpec& spec) {
  const std::size_t n = chain.size();
  switch (spec.kind) {
    case PlanKind::none:
      return segmented_plan(chain, model, context, none_checkpoints(n), spec, "keep every activation; no recomputation");
    case PlanKind::sqrtn: {
      const std::vector<std::size_t> checkpoints = sqrtn_checkpoints(n);
      return segmented_plan(
          chain, model, context, checkpoints, spec,
          "Chen et al.: " + std::to_string(checkpoints.size() + 1) + " segments of about sqrt(" +
              std::to_string(n) + ") layers; each segment's input kept, its layers recomputed before its backward");
    }
    case PlanKind::every:
      return segmented_plan(chain, model, context, every_k_checkpoints(n, spec.every), spec,
                            "a kept activation every " + std::to_string(spec.every) +
                                " layers; the layers between recomputed before their backward");
    case PlanKind::budget:
      if (context.host_memory_bytes > 0) return build_offload_plan(chain, model, context, spec.budget_bytes, spec.text);
      return build_budget_plan(chain, model, context, spec.budget_bytes, spec.text);
    case PlanKind::chen_greedy: return build_chen_greedy_plan(chain, model, context, spec);
    case PlanKind::automatic: return build_auto_plan(chain, model, context);
  }
  throw std::logic_error("make_plan: unknown plan kind");
}

bool over_user_limit(const Plan& plan, const StepContext& context) {
  return context.memory_limit_source == MemoryLimitSource::user && plan.arena_bytes > context.memory_limit_bytes;
}

}  // namespace

Plan make_plan(const ModelSpec& model, const StepContext& context, const PlanSpec& spec) {
  const Chain chain = build_chain(model);
  Plan plan = plan_for(chain, model, context, spec);
  predict_step_time(plan, KernelTimer(profile_of(context), "--profile"));
  if (over_user_limit(plan, context))
    throw UsageError("--max-memory " + format_bytes(context.memory_limit_bytes) + ": plan '" + spec.text +
                     "' needs an arena of " + format_bytes(plan.arena_bytes) + " (" + std::to_string(plan.arena_bytes) +
                     " B), more than the limit (--plan auto picks the fastest plan that fits)");
  return plan;
}

std::vector<Plan> fit_candidates(const ModelSpec& model, const StepContext& context) {
  const Chain chain = build_chain(model);
  std::vector<std::string> names{"none", "sqrtn"};
  for (std::size_t k = 2; k < chain.size(); k *= 2) names.push_back("every:" + std::to_string(k));
  std::vector<Plan> candidates;
  for (const std::string& name : names) {
    Plan plan = plan_for(chain, model, context, parse_plan(name));
    if (!over_user_limit(plan, context)) candidates.push_back(std::move(plan));
  }
  std::variant<Plan, UsageError> automatic = choose_auto_plan(chain, model, context);
  if (Plan* plan = std::get_if<Plan>(&automatic)) candidates.push_back(std::move(*plan));
  return candidates;
}

}  // namespace egc
