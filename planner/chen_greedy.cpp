// Chen et al.'s Algorithm 3, their search over b, and the chen-greedy plans.
#include "planner/chen_greedy.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "planner/errors.h"
#include "planner/unit_memory.h"
#include "planner/units.h"

namespace egc {
namespace {

// What a layer's forward leaves for its backward, as Algorithm 3's size-of-output(v): its output,
// and a tape beside it (GELU's pre-activation, a block's inner pre-activation and statistics).
std::size_t stored_size(const Layer& layer) {
  const UnitFootprints f = unit_footprints(layer);
  return f.output + (f.tape_is_output ? 0 : f.tape);
}

GreedyCandidate measure(const Chain& chain, const ModelSpec& model, const StepContext& context,
                        GreedyCheckpoints greedy) {
  GreedyCandidate candidate{segmented_cost(chain, model, context, greedy.checkpoints), {}};
  candidate.greedy = std::move(greedy);
  return candidate;
}

}  // namespace

GreedyCheckpoints chen_greedy_checkpoints(const Chain& chain, std::size_t threshold) {
  GreedyCheckpoints result;
  result.threshold = threshold;
  std::size_t temp = 0;
  for (std::size_t v = 0; v < chain.size(); ++v) {
    const std::size_t size = stored_size(chain.layers[v]);
    temp += size;
    const bool candidate = v + 1 < chain.size();  // a hidden layer: its output can be kept
    if (candidate && temp > threshold) {
      result.stored_bytes += size;
      result.largest_stage_bytes = std::max(result.largest_stage_bytes, temp);
      result.checkpoints.push_back(v);
      temp = 0;
    }
  }
  return result;
}

std::vector<GreedyCandidate> chen_search(const Chain& chain, const ModelSpec& model, const StepContext& context) {
  std::vector<GreedyCandidate> runs;
  long double threshold = 0;
  std::size_t min_threshold = 0;
  for (int k = 0; k < 3; ++k) {
    runs.push_back(measure(chain, model, context, chen_greedy_checkpoints(chain, static_cast<std::size_t>(threshold))));
    const GreedyCheckpoints& g = runs.back().greedy;
    const long double guess = std::floor(std::sqrt(static_cast<long double>(g.stored_bytes) *
                                                   static_cast<long double>(g.largest_stage_bytes) / 2));
    min_threshold = k == 0 ? g.largest_stage_bytes : std::min(min_threshold, g.largest_stage_bytes);
    threshold = guess;
  }
  const long double max_threshold = threshold * std::sqrt(2.0L);
  const long double step = std::floor((max_threshold - static_cast<long double>(min_threshold)) / 6);
  if (step > 0) {
    threshold = static_cast<long double>(min_threshold) + step;
    for (int k = 0; k < 6; ++k, threshold += step)
      runs.push_back(measure(chain, model, context, chen_greedy_checkpoints(chain, static_cast<std::size_t>(threshold))));
  }
  return runs;
}

std::vector<GreedyCandidate> all_greedy_plans(const Chain& chain, const ModelSpec& model, const StepContext& context,
                                              std::size_t limit) {
  std::vector<std::size_t> thresholds{0};
  for (std::size_t first = 0; first < chain.size(); ++first) {
    std::size_t sum = 0;
    for (std::size_t last = first; last < chain.size(); ++last) {
      sum += stored_size(chain.layers[last]);
      thresholds.push_back(sum);
    }
  }
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  if (limit > 1 && thresholds.size() > limit) {
    std::vector<std::size_t> spread;
    for (std::size_t i = 0; i < limit; ++i) spread.push_back(thresholds[i * (thresholds.size() - 1) / (limit - 1)]);
    thresholds = std::move(spread);
  }
  std::map<std::vector<std::size_t>, bool> seen;
  std::vector<GreedyCandidate> plans;
  for (std::size_t threshold : thresholds) {
    GreedyCheckpoints greedy = chen_greedy_checkpoints(chain, threshold);
    if (!seen.emplace(greedy.checkpoints, true).second) continue;
    plans.push_back(measure(chain, model, context, std::move(greedy)));
  }
  return plans;
}

Plan build_chen_greedy_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                            const PlanSpec& spec) {
  std::string description;
  GreedyCandidate chosen;
  if (!spec.has_budget) {
    const std::vector<GreedyCandidate> runs = chen_search(chain, model, context);
    chosen = *std::min_element(runs.begin(), runs.end(), less_peak);
    description = "Chen et al. Algorithm 3, b = " + format_bytes(chosen.greedy.threshold) +
                  ": the least activation peak of their search over " + std::to_string(runs.size()) + " values of b";
  } else {
    const std::vector<GreedyCandidate> plans = all_greedy_plans(chain, model, context);
    const GreedyCandidate* best = nullptr;
    for (const GreedyCandidate& plan : plans) {
      if (plan.activation_peak_bytes > spec.budget_bytes) continue;
      if (!best || plan.recompute_flops < best->recompute_flops ||
          (plan.recompute_flops == best->recompute_flops && plan.activation_peak_bytes < best->activation_peak_bytes))
        best = &plan;
    }
    if (!best) {
      const GreedyCandidate& smallest = *std::min_element(plans.begin(), plans.end(), less_peak);
      throw UsageError("--plan " + spec.text + ": no greedy plan has an activation peak within " +
                       format_bytes(spec.budget_bytes) + "; the smallest is " +
                       format_bytes(smallest.activation_peak_bytes) + " (" +
                       std::to_string(smallest.activation_peak_bytes) + " B); budget:SIZE goes lower");
    }
    chosen = *best;
    description = "Chen et al. Algorithm 3, b = " + format_bytes(chosen.greedy.threshold) +
                  ": the least recomputation of " + std::to_string(plans.size()) +
                  " distinct greedy plans within an activation budget of " + format_bytes(spec.budget_bytes);
  }
  return build_segmented_schedule(chain, model, context, chosen.greedy.checkpoints, spec.text, description);
}

}  // namespace egc
