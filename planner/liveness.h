// Liveness: each buffer's [first op, last op] interval from the ops that touch it, and the
// live bytes at each op (the lower bound any arena layout must respect).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "planner/offsets.h"
#include "planner/plan.h"

namespace egc {

// Sets first_op/last_op of every buffer: persistent buffers span every op; the others run
// from the first op that touches them to the last. Throws std::logic_error for a buffer no
// op touches or one that is read before it is written.
void compute_lifetimes(Plan& plan);

// Which arena a buffer lives in: the device's, or the host's (offloaded copies, Buffer::host).
enum class ArenaSide { device, host };

// The arena usage record of each buffer of `side` (footprint and lifetime), in buffer order;
// their buffer ids appended to `ids` when given.
std::vector<UsageRecord> usage_records(const Plan& plan, ArenaSide side = ArenaSide::device,
                                       std::vector<BufferId>* ids = nullptr);

// Per op, the sum of the footprints of the buffers of `side` alive at it, counting only the
// buffers `counts` accepts (all of them when it is empty).
std::vector<std::size_t> live_bytes_per_op(const Plan& plan,
                                           const std::function<bool(const Buffer&)>& counts = {},
                                           ArenaSide side = ArenaSide::device);

}  // namespace egc
