// Fit check of a plan against free device memory, and the cheapest alternative that fits.
#include "runtime/memory_fit.h"

#include <algorithm>
#include <optional>
#include <tuple>

#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/units.h"

namespace egc {

std::size_t bytes_needed(const Plan& plan, AllocMode mode) {
  return mode == AllocMode::arena ? plan.arena_bytes : plan.live_peak_bytes;
}

PlanOption plan_option(const Plan& plan, AllocMode mode) {
  return PlanOption{plan.name, bytes_needed(plan, mode), plan.recompute_flops};
}

void require_fits(const PlanOption& chosen, std::size_t free_bytes, const std::vector<PlanOption>& listed) {
  if (chosen.bytes <= free_bytes) return;
  std::string message = "--plan " + chosen.name + ": the step needs " + std::to_string(chosen.bytes) + " bytes (" +
                        format_bytes(chosen.bytes) + ") of device memory, " + std::to_string(free_bytes) +
                        " bytes (" + format_bytes(free_bytes) + ") are free; ";
  std::optional<PlanOption> best;
  for (const PlanOption& option : listed) {
    if (option.bytes > free_bytes) continue;
    if (!best || std::tie(option.recompute_flops, option.bytes) < std::tie(best->recompute_flops, best->bytes))
      best = option;
  }
  if (best) {
    message += "the cheapest listed plan that fits is --plan " + best->name + " (" + format_bytes(best->bytes) + ")";
  } else {
    const auto smallest = std::min_element(listed.begin(), listed.end(), [](const PlanOption& a, const PlanOption& b) {
      return a.bytes < b.bytes;
    });
    message += "no listed plan fits";
    if (smallest != listed.end())
      message += " (the smallest, --plan " + smallest->name + ", needs " + format_bytes(smallest->bytes) + ")";
    message += ": use a smaller --batch or model";
  }
  throw UsageError(message);
}

void check_plan_fits(const Plan& chosen, AllocMode mode, Backend& backend, const std::vector<Plan>& listed) {
  const std::optional<std::size_t> free_bytes = backend.device_free_bytes();
  if (!free_bytes) return;
  std::vector<PlanOption> options;
  for (const Plan& plan : listed) options.push_back(plan_option(plan, mode));
  require_fits(plan_option(chosen, mode), *free_bytes, options);
}

void check_plan_fits(const Plan& chosen, AllocMode mode, Backend& backend) {
  if (backend.device_free_bytes()) check_plan_fits(chosen, mode, backend, fit_candidates(chosen.model, chosen.context));
}

}  // namespace egc
