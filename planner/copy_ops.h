// Offload and prefetch ops: where a schedule places them (with_offloads) and the events that
// order the copy stream against the compute stream (link_copy_events).
#pragma once

#include <cstddef>
#include <vector>

#include "planner/plan.h"
#include "planner/schedule.h"

namespace egc {

// An offload overlaps this many compute ops after it; the next compute op waits for the copy,
// and the copied device buffer stays alive until then (its memory is reused only afterwards).
constexpr std::size_t kOffloadOverlapOps = 1;
// A prefetch is issued this many compute ops before the first op that reads what it brings back.
constexpr std::size_t kPrefetchLeadOps = 1;

// Sets every copy op's wait_for_op (the last compute op before it) and waited_by_op (offload:
// the (kOffloadOverlapOps + 1)-th compute op after it, kNoOp past the end; prefetch: the first
// op that reads its output). Throws std::logic_error for a prefetch nothing reads.
void link_copy_events(Plan& plan);

// `calls` (forward, recompute, loss, backward only) with each layer of `offloaded` moved to the
// host after its last forward-pass reader (the forward of the next layer) and prefetched
// kPrefetchLeadOps compute calls before the first call after the loss that reads it (never before
// the loss). Each offloaded layer's first-pass output (and tape) must be what the backward pass
// reads: not the last layer, forwarded once before the loss, not recomputed before it is read
// again; std::logic_error otherwise.
std::vector<ScheduleCall> with_offloads(const std::vector<ScheduleCall>& calls, std::size_t layers,
                                        const std::vector<std::size_t>& offloaded);

}  // namespace egc
