// --plan auto: choose between keeping everything and the budget plan by the arena's limit.
#include "planner/auto_plan.h"

#include <optional>
#include <string>
#include <vector>

#include "planner/budget.h"
#include "planner/errors.h"
#include "planner/report.h"
#include "planner/schedule.h"
#include "planner/units.h"

namespace egc {
namespace {

// Bytes alive at every op: parameters, optimizer state, data, workspace (and the whole-step
// gradients with a single update; per-layer gradients come and go with their layer's backward).
std::size_t persistent_bytes(const Plan& plan) {
  std::size_t bytes = 0;
  for (const Buffer& buffer : plan.buffers)
    if (buffer.persistent) bytes += buffer.footprint;
  return bytes;
}

// ", re-derives N outputs from kept pre-activations" for an op-level plan, else nothing.
std::string derived_text(const Plan& plan) {
  if (plan.derived_outputs == 0) return "";
  return " and re-derives " + std::to_string(plan.derived_outputs) + " outputs from kept pre-activations";
}

}  // namespace

std::size_t memory_margin(const StepContext& context) {
  if (context.memory_limit_source != MemoryLimitSource::device) return 0;
  return std::max(kDeviceMarginMinimumBytes, context.memory_limit_bytes / 100 * kDeviceMarginPercent);
}

Plan build_auto_plan(const Chain& chain, const ModelSpec& model, const StepContext& context) {
  std::variant<Plan, UsageError> choice = choose_auto_plan(chain, model, context);
  if (const UsageError* error = std::get_if<UsageError>(&choice)) throw *error;
  return std::get<Plan>(std::move(choice));
}

std::variant<Plan, UsageError> choose_auto_plan(const Chain& chain, const ModelSpec& model,
                                                const StepContext& context) {
  if (context.memory_limit_source == MemoryLimitSource::none)
    return UsageError("--plan auto: no memory limit to plan for: give --max-memory SIZE");
  const std::size_t margin = memory_margin(context);
  const std::size_t available = context.memory_limit_bytes > margin ? context.memory_limit_bytes - margin : 0;
  const std::string limit_text =
      context.memory_limit_source == MemoryLimitSource::user
          ? "--max-memory " + format_bytes(context.memory_limit_bytes)
          : "device free " + format_bytes(context.memory_limit_bytes) + " less a margin of " + format_bytes(margin);

  Plan none = build_segmented_schedule(chain, model, context, none_checkpoints(chain.size()), "auto", "");
  if (none.arena_bytes <= available) {
    none.description = "auto: none fits (arena " + format_bytes(none.arena_bytes) + " within " +
                       format_bytes(available) + ", " + limit_text + "); nothing is recomputed";
    return none;
  }

  // With per-layer updates each backward holds its layer's parameter gradients: the planner
  // counts them with the activations, so that the arena is the persistent bytes plus its peak.
  const bool per_layer_gradients = !context.single_update;
  // The planner of budget:SIZE (op-level under the time objective), on the arena's terms.
  BudgetPlanner planner = BudgetPlanner::for_objective(
      chain, model, context, per_layer_gradients ? BudgetMemory::activations_and_gradients : BudgetMemory::activations);
  const std::string peak_text = per_layer_gradients ? "peak of activations and one layer's gradients" : "activation peak";
  const std::size_t fixed = persistent_bytes(none);
  const std::size_t smallest_peak = planner.min_activation_peak();
  // Without building the smallest-peak plan: on long chains it recomputes O(n^2) layers, too many
  // ops to lay out for an error message. Its arena is at least the lifelong bytes plus its peak.
  auto smallest_arena_error = [&]() {
    const std::size_t needed = fixed + smallest_peak;
    return UsageError("--plan auto: no plan fits in " + format_bytes(available) + " (" + std::to_string(available) +
                      " B available: " + limit_text + "); the smallest arena needs at least " + format_bytes(needed) +
                      " (" + std::to_string(needed) + " B): " + format_bytes(fixed) +
                      " alive through the step (parameters, optimizer state, data, workspace) and the smallest " +
                      peak_text + ", " + format_bytes(smallest_peak));
  };
  if (available < fixed + smallest_peak) return smallest_arena_error();
  // The arena is the persistent bytes plus that peak, and a layout gap where the offsets do not
  // reach the lower bound: start from all the room left and lower the budget by any gap until it fits.
  std::size_t budget = available - fixed;
  for (int attempt = 0; attempt < 32 && budget >= smallest_peak; ++attempt) {
    const std::optional<BudgetSchedule> schedule = planner.solve(budget);
    Plan plan = build_schedule(chain, model, context, schedule->calls, "auto", "");
    if (plan.arena_bytes <= available) {
      plan.description = "auto: none needs " + format_bytes(none.arena_bytes) + ", more than " +
                         format_bytes(available) + " (" + limit_text + "); budget:" +
                         format_bytes(plan.activation_peak_bytes) + " (arena " + format_bytes(plan.arena_bytes) +
                         ") recomputes " + format_percent(plan.recompute_flops, plan.forward_flops) +
                         " of a forward pass" + derived_text(plan) + ", the least " + (context.objective == Objective::time ? "predicted time" : "recomputation") +
                         " within a " + peak_text + " of " + format_bytes(budget);
      return plan;
    }
    // The activations must shrink by the excess at least.
    const std::size_t over = plan.arena_bytes - available;
    if (over >= schedule->activation_peak_bytes) break;
    budget = schedule->activation_peak_bytes - over;
  }
  return smallest_arena_error();
}

}  // namespace egc
