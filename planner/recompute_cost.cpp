// unit_recompute_costs: FLOPs from the chain, or each recompute op's kernels priced in picoseconds.
#include "planner/recompute_cost.h"

#include <cmath>

#include "planner/op_kernels.h"
#include "planner/plan.h"
#include "planner/step_time.h"

namespace egc {
namespace {

// Each unit's op of `kind` priced in picoseconds.
std::vector<std::size_t> op_picoseconds(const Chain& chain, const ModelSpec& model, const StepContext& context,
                                        OpKind kind) {
  // op_kernels reads an op of a plan: a plan holding one op per unit, none keeping its tape.
  Plan plan;
  plan.model = model;
  plan.chain = chain;
  for (std::size_t j = 0; j < chain.size(); ++j) {
    Op op;
    op.kind = kind;
    op.layer = static_cast<int>(j);
    plan.ops.push_back(op);
  }
  const KernelTimer timer(profile_of(context), "--profile");
  std::vector<std::size_t> costs;
  for (std::size_t j = 0; j < chain.size(); ++j) {
    double ms = 0;
    for (const KernelCall& call : op_kernels(plan, j, chain.batch)) ms += timer.ms(call);
    costs.push_back(static_cast<std::size_t>(std::llround(ms * kPicosecondsPerMs)));
  }
  return costs;
}

}  // namespace

std::vector<std::size_t> unit_recompute_costs(const Chain& chain, const ModelSpec& model, const StepContext& context) {
  if (context.objective == Objective::time) return op_picoseconds(chain, model, context, OpKind::recompute);
  return unit_forward_flops(chain);
}

std::vector<std::size_t> unit_forward_flops(const Chain& chain) {
  std::vector<std::size_t> flops;
  for (const Layer& layer : chain.layers) flops.push_back(layer.forward_flops);
  return flops;
}

std::vector<std::size_t> unit_derive_costs(const Chain& chain, const ModelSpec& model, const StepContext& context) {
  if (context.objective != Objective::time) return {};
  std::vector<std::size_t> costs = op_picoseconds(chain, model, context, OpKind::derive);
  for (std::size_t j = 0; j < chain.size(); ++j)
    if (!output_derivable(chain.layers[j])) costs[j] = kDeriveImpossible;
  return costs;
}

const char* recompute_cost_unit(Objective objective) { return objective == Objective::time ? "ps" : "FLOPs"; }

}  // namespace egc
