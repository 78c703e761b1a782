// Arena placement: exact offsets for small hand-made cases, the lower bound, and each strategy.
#include <doctest/doctest.h>

#include <vector>

#include "planner/offsets.h"

using namespace egc;

namespace {
constexpr std::size_t U = 256;  // one alignment unit
}

TEST_CASE("three chained buffers: the first and the third share offset 0") {
  const std::vector<UsageRecord> records = {{4 * U, 0, 1}, {2 * U, 1, 2}, {4 * U, 2, 3}};
  const ArenaLayout layout = assign_offsets(records);
  CHECK(layout.offsets == std::vector<std::size_t>{0, 4 * U, 0});
  CHECK(layout.arena_bytes == 6 * U);
  CHECK(live_peak(records) == 6 * U);
}

TEST_CASE("a long-lived buffer stays at the bottom - short ones reuse the space above it") {
  const std::vector<UsageRecord> records = {
      {4 * U, 0, 5}, {2 * U, 0, 1}, {1 * U, 0, 1}, {1 * U, 2, 3}, {2 * U, 2, 3}};
  const ArenaLayout layout = place_greedy(records, PlacementOrder::by_size, Fit::tightest);
  CHECK(layout.offsets == std::vector<std::size_t>{0, 4 * U, 6 * U, 6 * U, 4 * U});
  CHECK(layout.arena_bytes == 7 * U);
  CHECK(live_peak(records) == 7 * U);
}

TEST_CASE("lowest fit takes the first gap, tightest fit the smallest one") {
  // After op 0, A (2 units at 0) and C (1 unit at 3) are dead: gaps of 2 and 1 units open.
  const std::vector<UsageRecord> records = {
      {2 * U, 0, 0}, {1 * U, 0, 3}, {1 * U, 0, 0}, {1 * U, 0, 3}, {1 * U, 1, 1}};
  const ArenaLayout lowest = place_greedy(records, PlacementOrder::by_birth, Fit::lowest);
  CHECK(lowest.offsets == std::vector<std::size_t>{0, 2 * U, 3 * U, 4 * U, 0});
  const ArenaLayout tightest = place_greedy(records, PlacementOrder::by_birth, Fit::tightest);
  CHECK(tightest.offsets == std::vector<std::size_t>{0, 2 * U, 3 * U, 4 * U, 3 * U});
  CHECK(lowest.arena_bytes == 5 * U);
  CHECK(tightest.arena_bytes == 5 * U);
}

TEST_CASE("live bytes per op and the peak") {
  const std::vector<UsageRecord> records = {{U, 0, 0}, {2 * U, 0, 2}, {3 * U, 2, 3}};
  CHECK(live_bytes(records, 4) == std::vector<std::size_t>{3 * U, 2 * U, 5 * U, 3 * U});
  CHECK(live_peak(records) == 5 * U);
  CHECK(live_peak({}) == 0);
}

TEST_CASE("a buffer born later fits where two shorter-lived ones were") {
  const std::vector<UsageRecord> records = {{U, 0, 1}, {U, 0, 3}, {U, 0, 1}, {2 * U, 2, 3}};
  const ArenaLayout layout = assign_offsets(records);
  CHECK(layout.arena_bytes == live_peak(records));
  for (std::size_t a = 0; a < records.size(); ++a)
    for (std::size_t b = a + 1; b < records.size(); ++b)
      if (overlaps_in_time(records[a], records[b]))
        CHECK((layout.offsets[a] + records[a].bytes <= layout.offsets[b] ||
               layout.offsets[b] + records[b].bytes <= layout.offsets[a]));
}
