// Greedy arena placement strategies and the choice among them.
#include "planner/offsets.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <random>
#include <set>

namespace egc {

bool overlaps_in_time(const UsageRecord& a, const UsageRecord& b) {
  return a.first_op <= b.last_op && b.first_op <= a.last_op;
}

std::vector<std::size_t> live_bytes(const std::vector<UsageRecord>& records, std::size_t op_count) {
  // Difference array: +bytes at first_op, -bytes after last_op. Unsigned wrap-around is
  // harmless: every running sum is at most the sum of all bytes, which the caller keeps in range.
  std::vector<std::size_t> delta(op_count + 1, 0);
  for (const UsageRecord& r : records) {
    delta[r.first_op] += r.bytes;
    delta[r.last_op + 1] -= r.bytes;
  }
  std::vector<std::size_t> live(op_count, 0);
  std::size_t running = 0;
  for (std::size_t i = 0; i < op_count; ++i) {
    running += delta[i];
    live[i] = running;
  }
  return live;
}

std::size_t live_peak(const std::vector<UsageRecord>& records) {
  std::size_t ops = 0;
  for (const UsageRecord& r : records) ops = std::max(ops, r.last_op + 1);
  const std::vector<std::size_t> live = live_bytes(records, ops);
  return live.empty() ? 0 : *std::max_element(live.begin(), live.end());
}

namespace {

std::vector<std::size_t> placement_order(const std::vector<UsageRecord>& records, PlacementOrder order) {
  std::vector<std::size_t> ids(records.size());
  std::iota(ids.begin(), ids.end(), std::size_t{0});
  auto larger_then_earlier = [&](std::size_t a, std::size_t b) {
    if (records[a].bytes != records[b].bytes) return records[a].bytes > records[b].bytes;
    return records[a].first_op < records[b].first_op;
  };
  if (order == PlacementOrder::by_size) {
    std::stable_sort(ids.begin(), ids.end(), larger_then_earlier);
  } else if (order == PlacementOrder::by_birth) {
    std::stable_sort(ids.begin(), ids.end(), [&](std::size_t a, std::size_t b) {
      if (records[a].first_op != records[b].first_op) return records[a].first_op < records[b].first_op;
      return records[a].bytes > records[b].bytes;
    });
  } else {
    std::size_t ops = 0;
    for (const UsageRecord& r : records) ops = std::max(ops, r.last_op + 1);
    std::vector<std::vector<std::size_t>> alive(ops);
    std::vector<std::size_t> breadth(ops, 0);
    for (std::size_t id = 0; id < records.size(); ++id) {
      for (std::size_t op = records[id].first_op; op <= records[id].last_op; ++op) {
        alive[op].push_back(id);
        breadth[op] += records[id].bytes;
      }
    }
    std::vector<std::size_t> op_order(ops);
    std::iota(op_order.begin(), op_order.end(), std::size_t{0});
    std::stable_sort(op_order.begin(), op_order.end(),
                     [&](std::size_t a, std::size_t b) { return breadth[a] > breadth[b]; });
    std::vector<bool> taken(records.size(), false);
    ids.clear();
    for (std::size_t op : op_order) {
      std::vector<std::size_t> here = alive[op];
      std::stable_sort(here.begin(), here.end(), larger_then_earlier);
      for (std::size_t id : here) {
        if (!taken[id]) { taken[id] = true; ids.push_back(id); }
      }
    }
  }
  return ids;
}

}  // namespace

namespace {

// The offset for `record` among `conflicts` (records alive with it, sorted by offset): the
// lowest gap that fits, or the tightest; above them all when none does.
std::size_t choose_offset(const std::vector<UsageRecord>& records, const std::vector<std::size_t>& offsets,
                          const std::size_t* conflicts, std::size_t count, std::size_t bytes, Fit fit) {
  std::size_t end_so_far = 0;
  std::size_t chosen = static_cast<std::size_t>(-1);
  std::size_t chosen_gap = static_cast<std::size_t>(-1);
  for (std::size_t c = 0; c < count; ++c) {
    const std::size_t start = offsets[conflicts[c]];
    if (start > end_so_far) {
      const std::size_t gap = start - end_so_far;
      if (gap >= bytes && gap < chosen_gap) {
        chosen = end_so_far;
        chosen_gap = gap;
        if (fit == Fit::lowest) break;
      }
    }
    end_so_far = std::max(end_so_far, start + records[conflicts[c]].bytes);
  }
  return chosen != static_cast<std::size_t>(-1) ? chosen : end_so_far;
}

// Greedy by birth as a sweep over time: the records alive with the next one are exactly those
// placed and not yet dead, so each placement looks at the live set only, not at every record
// placed so far. The same layout as place_in_order with the by-birth order, in O(records x live).
ArenaLayout place_by_birth_sweep(const std::vector<UsageRecord>& records, Fit fit) {
  ArenaLayout layout;
  layout.offsets.assign(records.size(), 0);
  const std::vector<std::size_t> order = placement_order(records, PlacementOrder::by_birth);
  std::set<std::pair<std::size_t, std::size_t>> live;  // (offset, id)
  using Death = std::pair<std::size_t, std::size_t>;    // (last op, id)
  std::priority_queue<Death, std::vector<Death>, std::greater<Death>> deaths;
  std::vector<std::size_t> conflicts;
  for (std::size_t id : order) {
    const UsageRecord& record = records[id];
    while (!deaths.empty() && deaths.top().first < record.first_op) {
      live.erase({layout.offsets[deaths.top().second], deaths.top().second});
      deaths.pop();
    }
    conflicts.clear();
    for (const auto& [offset, other] : live) conflicts.push_back(other);
    layout.offsets[id] = choose_offset(records, layout.offsets, conflicts.data(), conflicts.size(), record.bytes, fit);
    layout.arena_bytes = std::max(layout.arena_bytes, layout.offsets[id] + record.bytes);
    live.insert({layout.offsets[id], id});
    deaths.push({record.last_op, id});
  }
  return layout;
}

std::string strategy_name(PlacementOrder order, Fit fit) {
  return std::string(order == PlacementOrder::by_size    ? "greedy by size"
                     : order == PlacementOrder::by_birth ? "greedy by birth"
                                                         : "greedy by breadth") +
         (fit == Fit::lowest ? ", lowest fit" : ", tightest fit");
}

// Beyond this many records only the sweep runs: the other orders cost records^2 steps.
constexpr std::size_t kQuadraticPlacementLimit = 6000;

}  // namespace

ArenaLayout place_greedy(const std::vector<UsageRecord>& records, PlacementOrder order, Fit fit) {
  ArenaLayout layout = order == PlacementOrder::by_birth ? place_by_birth_sweep(records, fit)
                                                         : place_in_order(records, placement_order(records, order), fit);
  layout.strategy = strategy_name(order, fit);
  return layout;
}

ArenaLayout place_in_order(const std::vector<UsageRecord>& records, const std::vector<std::size_t>& order, Fit fit) {
  ArenaLayout layout;
  layout.offsets.assign(records.size(), 0);
  std::vector<std::size_t> placed;
  std::vector<std::size_t> conflicts;
  for (std::size_t id : order) {
    const UsageRecord& record = records[id];
    conflicts.clear();
    for (std::size_t other : placed)
      if (overlaps_in_time(record, records[other])) conflicts.push_back(other);
    std::sort(conflicts.begin(), conflicts.end(),
              [&](std::size_t a, std::size_t b) { return layout.offsets[a] < layout.offsets[b]; });
    layout.offsets[id] = choose_offset(records, layout.offsets, conflicts.data(), conflicts.size(), record.bytes, fit);
    layout.arena_bytes = std::max(layout.arena_bytes, layout.offsets[id] + record.bytes);
    placed.push_back(id);
  }
  return layout;
}

ArenaLayout assign_offsets(const std::vector<UsageRecord>& records) {
  // Records alive at every op (parameters, optimizer state, data) form one block at the bottom:
  // any layout can be rearranged so, at no cost (delete their strips of address space and
  // shift the rest down), and placing them among short-lived records only fragments the arena.
  std::size_t ops = 0;
  for (const UsageRecord& r : records) ops = std::max(ops, r.last_op + 1);
  std::vector<std::size_t> lifelong, transient;
  for (std::size_t id = 0; id < records.size(); ++id)
    (records[id].first_op == 0 && records[id].last_op + 1 == ops ? lifelong : transient).push_back(id);
  std::stable_sort(lifelong.begin(), lifelong.end(),
                   [&](std::size_t a, std::size_t b) { return records[a].bytes > records[b].bytes; });
  std::vector<UsageRecord> rest;
  for (std::size_t id : transient) rest.push_back(records[id]);
  ArenaLayout layout = assign_transient_offsets(rest);
  std::size_t base = 0;
  ArenaLayout result;
  result.offsets.assign(records.size(), 0);
  for (std::size_t id : lifelong) {
    result.offsets[id] = base;
    base += records[id].bytes;
  }
  for (std::size_t i = 0; i < transient.size(); ++i) result.offsets[transient[i]] = base + layout.offsets[i];
  result.arena_bytes = base + layout.arena_bytes;
  result.strategy = layout.strategy.empty() ? "lifelong buffers only" : layout.strategy;
  return result;
}

ArenaLayout assign_transient_offsets(const std::vector<UsageRecord>& records) {
  if (records.empty()) return ArenaLayout{};
  const std::size_t bound = live_peak(records);
  ArenaLayout best;
  bool have = false;
  const bool large = records.size() > kQuadraticPlacementLimit;
  for (PlacementOrder order : {PlacementOrder::by_birth, PlacementOrder::by_size, PlacementOrder::by_breadth}) {
    if (large && order != PlacementOrder::by_birth) continue;
    for (Fit fit : {Fit::tightest, Fit::lowest}) {
      ArenaLayout layout = place_greedy(records, order, fit);
      if (!have || layout.arena_bytes < best.arena_bytes) {
        best = std::move(layout);
        have = true;
      }
      if (best.arena_bytes == bound) return best;
    }
  }

  if (large) return best;

  // Random search: perturbed heuristic orders, and random ones. Each try costs about
  // records^2 / 2 steps; the total stays near 5e6 (a few milliseconds), and the search stops
  // within 0.2% of the bound, where a better layout is not worth the planning time.
  const std::size_t n = records.size();
  const std::size_t tries = std::min<std::size_t>(100000, 10000000 / std::max<std::size_t>(1, n * n));
  const std::size_t good_enough = bound + bound / 500;
  std::mt19937_64 random(n);
  const std::vector<std::size_t> seeds[] = {placement_order(records, PlacementOrder::by_size),
                                            placement_order(records, PlacementOrder::by_birth),
                                            placement_order(records, PlacementOrder::by_breadth)};
  for (std::size_t attempt = 0; attempt < tries && best.arena_bytes > good_enough; ++attempt) {
    std::vector<std::size_t> order = seeds[attempt % 3];
    if (attempt % 4 == 3) {
      std::shuffle(order.begin(), order.end(), random);
    } else {
      const std::size_t swaps = 1 + random() % std::max<std::size_t>(1, n / 4);
      for (std::size_t s = 0; s < swaps && n > 1; ++s) {
        const std::size_t i = random() % (n - 1);
        std::swap(order[i], order[i + 1 + random() % std::min<std::size_t>(4, n - 1 - i)]);
      }
    }
    ArenaLayout layout = place_in_order(records, order, attempt % 2 ? Fit::lowest : Fit::tightest);
    if (layout.arena_bytes < best.arena_bytes) {
      best = std::move(layout);
      best.strategy = "random search from the greedy orders (try " + std::to_string(attempt + 1) + ")";
    }
  }
  return best;
}

}  // namespace egc
