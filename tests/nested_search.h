// Every schedule of the budget planner's space enumerated from its definition (planner/budget.h,
// budget_split.h) as nested windows, for the spaces the window search (exhaustive_search.h) does
// not reach: with drop-and-re-derive. Each schedule is a list of builder calls; the tests build
// and measure each one, so the planner's peaks and costs are checked against the ScheduleBuilder,
// not against its own formulas.
#pragma once

#include <cstddef>
#include <map>
#include <tuple>
#include <vector>

#include "planner/budget.h"
#include "planner/chain.h"
#include "planner/schedule.h"

namespace egc::testing {

class NestedSearch {
 public:
  using Calls = std::vector<ScheduleCall>;
  static constexpr std::size_t kNoSource = static_cast<std::size_t>(-1);

  // op_level: a checkpoint of a derivable layer may be kept as its pre-activation only; drops: a
  // checkpoint may be dropped across a right part and re-made from its source.
  NestedSearch(const Chain& chain, bool op_level, bool drops) : chain_(chain), op_level_(op_level), drops_(drops) {}

  // Every schedule of the whole chain (the first pass included; the update is implied).
  const std::vector<Calls>& all() { return part(0, chain_.size() - 1, false, true, false, kNoSource); }

 private:
  std::size_t n() const { return chain_.size(); }
  bool needs_tape(std::size_t j) const { return saved_for_backward(chain_.layers[j]) != SavedForBackward::nothing; }
  bool pre_tape(std::size_t j) const {
    return saved_for_backward(chain_.layers[j]) == SavedForBackward::pre_activation;
  }
  // The last unit's output is read only by the loss: never kept as a pre-activation only.
  bool derivable(std::size_t j) const { return op_level_ && j + 1 < n() && output_derivable(chain_.layers[j]); }

  // Seg(s, t, tape) or Top(s): its schedules, `derived` (its input kept as a pre-activation only)
  // or re-made from `source` where it drops it.
  const std::vector<Calls>& part(std::size_t s, std::size_t t, bool tape, bool top, bool derived, std::size_t source) {
    const auto key = std::make_tuple(s, t, tape, top, derived, source);
    if (auto found = memo_.find(key); found != memo_.end()) return found->second;
    std::vector<Calls> schedules;
    if (!top && s == t) {
      Calls base;
      if (needs_tape(t) && !tape) base.push_back({OpKind::recompute, t, pre_tape(t)});
      base.push_back({OpKind::backward, t, false});
      schedules.push_back(base);
    }
    if (top) {  // no checkpoint from s on: the first pass, the loss, then the rest
      Calls first;
      for (std::size_t j = s; j < n(); ++j) first.push_back({OpKind::forward, j, false});
      first.push_back({OpKind::loss, 0, false});
      if (derived) first.push_back({OpKind::derive, s - 1, false});
      append_all(schedules, then_each({first}, part(s, n() - 1, false, false, derived, source)));
    }
    for (std::size_t k = s + 1; k <= t; ++k)
      for (bool kept : {false, true})
        for (bool derived_split : {false, true})
          for (bool drop : {false, true}) add_split(schedules, s, t, tape, top, derived, source, {k, kept, derived_split, drop});
    return memo_.emplace(key, std::move(schedules)).first->second;
  }

  struct Choice {
    std::size_t k;
    bool kept, derived, drop;
  };

  // The prefix s..k-1 (keeping k-1's tape where kept), the right part, a re-make of a dropped
  // input or a derive of a derived one, the left part.
  void add_split(std::vector<Calls>& schedules, std::size_t s, std::size_t t, bool tape, bool top, bool derived,
                 std::size_t source, const Choice& c) {
    if (c.kept && !needs_tape(c.k - 1)) return;
    if (c.derived && !(c.kept && derivable(c.k - 1))) return;
    if (c.drop && (!drops_ || source == kNoSource)) return;
    Calls prefix;
    for (std::size_t j = s; j < c.k; ++j)
      prefix.push_back({top ? OpKind::forward : OpKind::recompute, j, j + 1 == c.k && c.kept && pre_tape(j)});
    const std::size_t right_source = !drops_ || c.derived || derived ? kNoSource : c.drop ? source : s;
    const std::vector<Calls>& right = part(c.k, t, tape && needs_tape(t), top, c.derived, right_source);
    Calls between;
    if (c.drop)
      for (std::size_t j = source; j < s; ++j) between.push_back({OpKind::recompute, j, false});
    if (derived) between.push_back({OpKind::derive, s - 1, false});
    const std::vector<Calls>& left = part(s, c.k - 1, c.kept, false, derived, source);
    append_all(schedules, then_each(then_each(then_each({prefix}, right), {between}), left));
  }

  // Every schedule of `first` followed by every one of `second`.
  static std::vector<Calls> then_each(const std::vector<Calls>& first, const std::vector<Calls>& second) {
    std::vector<Calls> joined;
    for (const Calls& a : first)
      for (const Calls& b : second) {
        joined.push_back(a);
        joined.back().insert(joined.back().end(), b.begin(), b.end());
      }
    return joined;
  }
  static void append_all(std::vector<Calls>& out, std::vector<Calls> more) {
    for (Calls& calls : more) out.push_back(std::move(calls));
  }

  const Chain& chain_;
  bool op_level_, drops_;
  std::map<std::tuple<std::size_t, std::size_t, bool, bool, bool, std::size_t>, std::vector<Calls>> memo_;
};

}  // namespace egc::testing
