// make_plan: dispatch from a PlanSpec to the schedule that builds it.
#include "planner/make_plan.h"

#include <stdexcept>
#include <string>

#include "planner/chain.h"

namespace egc {

Plan make_plan(const ModelSpec& model, const StepContext& context, const PlanSpec& spec) {
  const Chain chain = build_chain(model);
  const std::size_t n = chain.size();
  switch (spec.kind) {
    case PlanKind::none: {
      std::vector<std::size_t> all;
      for (std::size_t layer = 0; layer + 1 < n; ++layer) all.push_back(layer);
      return build_segmented_schedule(chain, model, context, all, spec.text,
                                      "keep every activation; no recomputation");
    }
    case PlanKind::sqrtn: {
      const std::vector<std::size_t> checkpoints = sqrtn_checkpoints(n);
      return build_segmented_schedule(
          chain, model, context, checkpoints, spec.text,
          "Chen et al.: " + std::to_string(checkpoints.size() + 1) + " segments of about sqrt(" +
              std::to_string(n) + ") layers; each segment's input kept, its layers recomputed before its backward");
    }
    case PlanKind::every:
      return build_segmented_schedule(chain, model, context, every_k_checkpoints(n, spec.every), spec.text,
                                      "a kept activation every " + std::to_string(spec.every) +
                                          " layers; the layers between recomputed before their backward");
  }
  throw std::logic_error("make_plan: unknown plan kind");
}

}  // namespace egc
