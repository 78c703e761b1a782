// unit_footprints: the buffers ScheduleBuilder makes for a unit, as footprints.
#include "planner/unit_memory.h"

#include "planner/plan.h"
#include "planner/units.h"

namespace egc {

UnitFootprints unit_footprints(const Layer& layer) {
  UnitFootprints f;
  f.output = footprint_of(layer.output_bytes);
  f.parameter_gradients = footprint_of(checked_mul(layer.param_count(), kFloatBytes, "gradient bytes"));
  const bool block = layer.kind == UnitKind::residual_block;
  switch (saved_for_backward(layer)) {
    case SavedForBackward::nothing: break;
    case SavedForBackward::output:
      f.tape = f.output;
      f.tape_is_output = true;
      break;
    case SavedForBackward::pre_activation:
      f.tape = block ? footprint_of(layer.inner_bytes) + (layer.norm ? footprint_of(layer.stats_bytes) : 0) : f.output;
      break;
  }
  if (block) {
    f.forward_scratch = footprint_of(layer.inner_bytes);
    f.backward_scratch = footprint_of(layer.inner_bytes) + (layer.norm ? f.output : 0);
    f.gradient_in_place = true;
  }
  return f;
}

}  // namespace egc
