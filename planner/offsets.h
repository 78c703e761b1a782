// Arena offsets: a pure function from usage records {bytes, first op, last op} to one offset
// each and the arena size, such that records alive at a common op never overlap.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace egc {

struct UsageRecord {
  std::size_t bytes = 0;  // already rounded up to the arena alignment
  std::size_t first_op = 0;
  std::size_t last_op = 0;
};

struct ArenaLayout {
  std::vector<std::size_t> offsets;  // one per record
  std::size_t arena_bytes = 0;       // the highest end of any record
  std::string strategy;              // which placement produced it
};

enum class PlacementOrder {
  by_size,     // largest first, then earliest born (TF Lite's greedy by size)
  by_birth,    // earliest born first, then largest (first-fit interval colouring)
  by_breadth,  // ops with the most live bytes first, each op's records largest first
};
enum class Fit { lowest, tightest };  // first gap that fits, or the smallest gap that fits

// Per op (0 .. op_count-1), the sum of the bytes of the records alive at it.
std::vector<std::size_t> live_bytes(const std::vector<UsageRecord>& records, std::size_t op_count);

// The largest sum of bytes alive together at one op: no layout can be smaller.
std::size_t live_peak(const std::vector<UsageRecord>& records);

// Places records one by one in the given order, each in a gap between the records already
// placed that are alive at some common op, or above them all.
ArenaLayout place_greedy(const std::vector<UsageRecord>& records, PlacementOrder order, Fit fit);

// Places records in exactly this order (a permutation of record indices).
ArenaLayout place_in_order(const std::vector<UsageRecord>& records, const std::vector<std::size_t>& order, Fit fit);

// Records alive at every op go to the bottom, one after the other; the rest above them by
// assign_transient_offsets.
ArenaLayout assign_offsets(const std::vector<UsageRecord>& records);

// The smallest layout among every order and fit above; stops early at the lower bound. When
// none reaches it, a bounded random search from perturbed greedy orders (fewer tries for larger
// plans) keeps the smallest layout found.
ArenaLayout assign_transient_offsets(const std::vector<UsageRecord>& records);

bool overlaps_in_time(const UsageRecord& a, const UsageRecord& b);

}  // namespace egc
