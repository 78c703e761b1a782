// The three-way dynamic program and the plan it builds.
#include "planner/offload_plan.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>
#include <utility>

#include "planner/budget.h"
#include "planner/copy_ops.h"
#include "planner/errors.h"
#include "planner/schedule.h"
#include "planner/step_time.h"
#include "planner/units.h"

namespace egc {
namespace {

// After the segments up to layer e, whose end has role r: the least time per (P, H, Q), the bytes
// of kept segment ends, of offloaded ones, and of the prefetch the next segment's last backward
// overlaps (what the latest segment's start - 1 brings back, where offloaded), with where it
// came from.
using Key = std::tuple<std::size_t, std::size_t, std::size_t>;
struct Entry {
  double ms = 0;
  std::size_t from_end = 0;  // the previous segment's end + 1 (0: the first segment)
  LayerRole from_role = LayerRole::keep;
  Key from_key{0, 0, 0};
};
using Table = std::map<Key, Entry>;

struct Solver {
  const OffloadModel& m;
  std::size_t budget, host;
  // tables[(e + 1) * 2 + (r == offload)]: e = -1 is the start (one entry, role keep).
  std::vector<Table> tables;
  std::size_t states = 0;

  Table& table(std::size_t end_plus_one, LayerRole role) {
    return tables[end_plus_one * 2 + (role == LayerRole::offload ? 1 : 0)];
  }

  // Every segment [s, e] from every state ending at s - 1.
  void run() {
    tables.assign((m.n + 1) * 2, Table{});
    table(0, LayerRole::keep)[{0, 0, 0}] = Entry{};
    for (std::size_t s = 0; s < m.n; ++s) {
      for (LayerRole before : {LayerRole::keep, LayerRole::offload}) {
        const Table& from = table(s, before);
        for (const auto& [key, entry] : from) extend(s, before, key, entry);
      }
    }
  }

  void extend(std::size_t s, LayerRole before, Key key, const Entry& entry) {
    const auto [kept, offloaded, early_prefetch] = key;
    const bool prefetched = s > 0 && before == LayerRole::offload;
    const std::size_t prefetch = prefetched ? m.keep_bytes[s - 1] : 0;
    std::size_t working = kept + m.gradient_bytes + prefetch + early_prefetch;
    double recomputed_ms = 0;
    // The last segment is the last layer alone: the one before it is never recomputed.
    for (std::size_t e = s; e < m.n && (e + 1 < m.n || s + 1 == m.n); ++e) {
      working += m.keep_bytes[e];
      if (working > budget) return;  // a longer segment only holds more
      const double ms = entry.ms + recomputed_ms + (prefetched ? m.prefetch_exposed_ms(s - 1, e) : 0.0);
      for (LayerRole role : {LayerRole::keep, LayerRole::offload}) {
        if (role == LayerRole::offload && e + 1 == m.n) continue;
        const std::size_t next_kept = kept + (role == LayerRole::keep ? m.keep_bytes[e] : 0);
        const std::size_t next_host = offloaded + (role == LayerRole::offload ? m.keep_bytes[e] : 0);
        if (next_host > host || next_kept + m.forward_extra > budget) continue;
        const double total = ms + (role == LayerRole::offload ? m.offload_exposed_ms(e) : 0.0);
        Table& to = table(e + 1, role);
        const Key next{next_kept, next_host, prefetch};
        const auto found = to.find(next);
        if (found == to.end() && ++states > kOffloadMaxStates)
          throw UsageError("--host-memory: the three-way planner's tables outgrow " + std::to_string(kOffloadMaxStates) +
                           " states on this chain (many distinct layer sizes); budget:SIZE without --host-memory "
                           "plans it (keep or recompute only)");
        if (found == to.end() || total < found->second.ms) to[next] = Entry{total, s, before, key};
      }
      recomputed_ms += m.forward_plain_ms[e];
    }
  }

  std::optional<std::vector<LayerRole>> best() const {
    const Table& last = tables[m.n * 2];
    if (last.empty()) return std::nullopt;
    // Among equally fast plans, the one with the least host memory (keeping rather than
    // offloading where the copies would be hidden anyway).
    auto winner = std::min_element(last.begin(), last.end(), [](const auto& a, const auto& b) {
      return a.second.ms != b.second.ms ? a.second.ms < b.second.ms : std::get<1>(a.first) < std::get<1>(b.first);
    });
    std::vector<LayerRole> roles(m.n, LayerRole::recompute);
    std::size_t end_plus_one = m.n;
    LayerRole role = LayerRole::keep;
    Key key = winner->first;
    while (end_plus_one > 0) {
      const Entry& entry = tables[end_plus_one * 2 + (role == LayerRole::offload ? 1 : 0)].at(key);
      roles[end_plus_one - 1] = role;
      end_plus_one = entry.from_end;
      role = entry.from_role;
      key = entry.from_key;
    }
    return roles;
  }
};

// The smallest value in [low, high] for which `fits` holds (it holds at high; monotone).
template <typename Fits>
std::size_t smallest_fitting(std::size_t low, std::size_t high, Fits fits) {
  while (low < high) {
    const std::size_t middle = low + (high - low) / 2;
    if (fits(middle))
      high = middle;
    else
      low = middle + 1;
  }
  return high;
}

std::size_t total_keep(const OffloadModel& model) {
  return std::accumulate(model.keep_bytes.begin(), model.keep_bytes.end(), std::size_t{0});
}

}  // namespace

OffloadModel offload_model_of(const Chain& chain, const ModelSpec& model, const StepContext& context,
                              const KernelTimer& timer) {
  const std::size_t n = chain.size();
  Plan none = build_segmented_schedule(chain, model, context, none_checkpoints(n), "none", "", Offsets::skip);
  predict_step_time(none, timer);
  if (n < 3) return OffloadModel(none, nullptr, timer);
  Plan plain = build_segmented_schedule(chain, model, context, {n - 2}, "plain", "", Offsets::skip);
  predict_step_time(plain, timer);
  return OffloadModel(none, &plain, timer);
}

std::optional<std::vector<LayerRole>> solve_offload(const OffloadModel& model, std::size_t budget_bytes,
                                                    std::size_t host_bytes) {
  Solver solver{model, budget_bytes, host_bytes, {}};
  solver.run();
  return solver.best();
}

std::size_t min_offload_budget(const OffloadModel& model, std::size_t host_bytes) {
  // Keeping everything fits the sum of all kept bytes with the transients.
  const std::size_t high = total_keep(model) + model.gradient_bytes + model.forward_extra;
  return smallest_fitting(0, high, [&](std::size_t budget) { return solve_offload(model, budget, host_bytes).has_value(); });
}

Plan build_roles_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                      const std::vector<LayerRole>& roles, std::string name, std::string description) {
  std::vector<std::size_t> checkpoints, offloaded;
  for (std::size_t layer = 0; layer + 1 < roles.size(); ++layer) {
    if (roles[layer] != LayerRole::recompute) checkpoints.push_back(layer);
    if (roles[layer] == LayerRole::offload) offloaded.push_back(layer);
  }
  return build_schedule(chain, model, context, with_offloads(segmented_calls(chain, checkpoints), chain.size(), offloaded),
                        std::move(name), std::move(description));
}

Plan build_offload_plan(const Chain& chain, const ModelSpec& model, const StepContext& context,
                        std::size_t budget_bytes, const std::string& name) {
  if (chain.size() > kOffloadMaxLayers)
    throw UsageError("--host-memory: the three-way planner plans chains of at most " + std::to_string(kOffloadMaxLayers) +
                     " units, this one has " + std::to_string(chain.size()) +
                     "; budget:SIZE without --host-memory plans it (keep or recompute only)");
  const KernelTimer timer(profile_of(context), "--profile");
  const OffloadModel offload_model = offload_model_of(chain, model, context, timer);
  const std::size_t host = context.host_memory_bytes;
  const std::optional<std::vector<LayerRole>> roles = solve_offload(offload_model, budget_bytes, host);
  if (!roles) {
    const std::size_t with_cap = min_offload_budget(offload_model, host);
    const std::size_t unlimited = min_offload_budget(offload_model, total_keep(offload_model));
    std::string message = infeasible_budget_message(name, budget_bytes, with_cap) + " with --host-memory " +
                          format_bytes(host) + " (three-way planner)";
    if (unlimited < with_cap) {
      const std::size_t host_needed = smallest_fitting(host, total_keep(offload_model), [&](std::size_t cap) {
        return solve_offload(offload_model, budget_bytes, cap).has_value();
      });
      message += budget_bytes >= unlimited
                     ? "; this budget needs --host-memory " + format_bytes(host_needed) + " (" +
                           std::to_string(host_needed) + " B)"
                     : "; with unlimited host memory the smallest is " + format_bytes(unlimited);
    }
    throw UsageError(message);
  }
  return build_roles_plan(chain, model, context, *roles, name,
                          "least predicted time within an activation budget of " + format_bytes(budget_bytes) +
                              " and a host arena of " + format_bytes(host) +
                              " (keep, recompute or offload per layer; segmented schedules, exact dynamic program)");
}

}  // namespace egc
