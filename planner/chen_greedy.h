// Chen et al.'s greedy memory planning with a budget (Algorithm 3 of arXiv 1604.06174) and their
// search over the budget b, as checkpoint sets for the segmented schedule: a comparison point.
#pragma once

#include <cstddef>
#include <vector>

#include "planner/chain.h"
#include "planner/model_spec.h"
#include "planner/plan.h"
#include "planner/schedule.h"

namespace egc {

// Algorithm 3 on the chain: walk the layers in order adding each one's stored size to temp (its
// output's footprint; twice that for GELU, which also keeps its pre-activation); at a candidate
// split point (a hidden layer) with temp > b, keep that output (m(v) = 0), add its size to x,
// set y = max(y, temp) and reset temp to 0. Layers after the last kept one form the final
// segment, as in build_segmented_schedule.
struct GreedyCheckpoints {
  std::size_t threshold = 0;            // b
  std::vector<std::size_t> checkpoints;  // the kept layers
  std::size_t stored_bytes = 0;          // x: approximate cost of the kept outputs
  std::size_t largest_stage_bytes = 0;   // y: approximate memory of the largest stage
};
GreedyCheckpoints chen_greedy_checkpoints(const Chain& chain, std::size_t threshold);

// A greedy checkpoint set with the activation peak and recomputation of its segmented plan.
struct GreedyCandidate : ScheduleCost {
  GreedyCheckpoints greedy;
};

// Chen's own search over b, as their memonger search_plan does it: b = 0, then twice
// b = floor(sqrt(x * y / 2)) from the previous run's x and y; then 6 values stepping from the
// smallest y seen up to sqrt(2) times the last guess. Returns the 9 (or fewer, when the step is
// not positive) runs in that order, each measured.
std::vector<GreedyCandidate> chen_search(const Chain& chain, const ModelSpec& model, const StepContext& context);

// Every distinct greedy plan: b = 0 and b = each distinct sum of consecutive layer sizes (the
// greedy's choices change only there), at most `limit` values of b evenly spread over the sorted
// list when there are more; identical checkpoint sets are measured once.
std::vector<GreedyCandidate> all_greedy_plans(const Chain& chain, const ModelSpec& model, const StepContext& context,
                                              std::size_t limit = 4096);

// --plan chen-greedy: the run of Chen's search with the least activation peak (then the least
// recomputation). --plan chen-greedy:SIZE: the least-recompute plan of all_greedy_plans whose
// activation peak is within SIZE; throws UsageError when none is, stating the smallest.
Plan build_chen_greedy_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                            const PlanSpec& spec);

}  // namespace egc
