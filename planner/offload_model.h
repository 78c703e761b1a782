// The three-way planner's view of a chain (keep, recompute or offload each layer): per layer what
// keeping it holds, what its ops and copies cost, and the model's figures for one choice per
// layer. The dynamic program (planner/offload_plan.h) and the exhaustive search of the tests
// both price choices with model_cost, so they optimise exactly the same thing.
#pragma once

#include <cstddef>
#include <vector>

#include "planner/device_profile.h"
#include "planner/plan.h"

namespace egc {

enum class LayerRole { recompute, keep, offload };

// The space: a role per layer. The layers that are not recomputed end the segments (the
// checkpoints of a segmented schedule, planner/schedule.h); a segment's other layers are
// recomputed before its backward from the previous segment's end. The last layer is kept, and
// the one before it is not recomputed (a segmented schedule keeps its final segment whole).
// Offloaded layers move their output and tape (planner/copy_ops.h with_offloads).
struct OffloadModel {
  // From the none plan of the chain, with predicted op times, the plan with one checkpoint at
  // layer n-2 (whose first forwards keep no tape; null for chains of fewer than 3 layers) and the
  // timer the copies are priced with.
  OffloadModel(const Plan& none, const Plan* plain, const KernelTimer& timer);

  std::size_t n = 0;
  std::vector<std::size_t> keep_bytes;  // per layer: the footprints of its output and its tape
  std::size_t gradient_bytes = 0;       // two activation gradients of the largest output
  std::size_t forward_extra = 0;        // the forward pass's transients: see model_cost
  std::vector<double> forward_ms;       // per layer: its forward op, keeping its tape
  std::vector<double> forward_plain_ms; // and without the tape: what recomputing the layer adds
  std::vector<double> backward_ms;      // per layer: its backward op and its update
  std::vector<double> offload_ms;       // per layer: copying what it keeps to the host
  std::vector<double> prefetch_ms;      // and back
  double none_ms = 0;                   // none's predicted step

  // What the offload of layer j costs beyond the compute it overlaps (the next layer's forward;
  // the loss, taken as 0 ms, after the last); the prefetch of layer j when the segment after it
  // ends at `next_end` (it overlaps the backward of layer next_end + 1; nothing after the loss).
  double offload_exposed_ms(std::size_t j) const;
  double prefetch_exposed_ms(std::size_t j, std::size_t next_end) const;
};

struct OffloadModelCost {
  std::size_t device_bytes = 0;  // the modelled activation peak on the device
  std::size_t host_bytes = 0;    // the host arena: every offloaded layer at once (at the loss)
  double step_ms = 0;            // none's time + recomputed forwards + exposed copies
};

// The model's figures for `roles` (one per layer, the last one keep). With segments [s, e] in
// order, P(s) the bytes of the kept segment ends before s and G = gradient_bytes:
//   device = max( sum of kept ends + forward_extra,
//                 max over segments of P(s) + keep(s-1) if s-1 is offloaded + sum keep[s..e] + G
//                                      + keep(s'-1) if s'-1 is offloaded, [s', s-1] the segment
//                                        before: its prefetch overlaps this segment's last backward )
//   host   = sum of keep over offloaded layers
//   time   = none_ms + sum of forward_plain_ms over recomputed layers + the exposed copies.
// An upper bound of the finished plan's activation peak by construction; its time is the
// finished plan's where copies do not queue on the copy stream.
OffloadModelCost model_cost(const OffloadModel& model, const std::vector<LayerRole>& roles);

}  // namespace egc
