// The budget DP's independent checks, shared by the budget suites: random test chains (plain,
// with dropout, residual), the exhaustive search of the schedule space through the
// ScheduleBuilder (every schedule, or a branch and bound for one budget), the Pareto frontier,
// and both solvers checked against them.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "planner/budget.h"
#include "planner/make_plan.h"
#include "planner/recompute_cost.h"
#include "planner/step_time.h"
#include "plan_checks.h"

namespace egc::testing {

inline constexpr std::size_t kNone = static_cast<std::size_t>(-1);

struct TestChain {
  ModelSpec model;
  Chain chain;
  std::string label;
};

inline TestChain make_test_chain(std::mt19937_64& rng, std::size_t layers, bool equal, Activation activation) {
  TestChain c;
  c.model.in_features = 1 + rng() % 6;
  c.model.out_features = 1 + rng() % 6;
  c.model.batch = rng() % 2 ? 16 : 3 + rng() % 20;  // 3..22 rows: footprints that round up
  c.model.activation = activation;
  c.model.hidden_widths.clear();
  const std::size_t width = 4 + rng() % 40;
  for (std::size_t i = 0; i + 1 < layers; ++i) c.model.hidden_widths.push_back(equal ? width : 1 + rng() % 48);
  c.chain = build_chain(c.model);
  c.label = std::to_string(layers) + " layers, " + (equal ? "equal" : "unequal") + " widths, " +
            to_string(activation) + ", batch " + std::to_string(c.model.batch);
  return c;
}

// A residual model of `blocks` blocks (units: projection, blocks, head), every setting drawn: width,
// expand, norm, activation, loss, batch (footprints that round up, and LayerNorm statistics of
// 2 x batch floats that do not fill a 256-byte footprint).
inline TestChain make_block_chain(std::mt19937_64& rng, std::size_t blocks) {
  TestChain c;
  c.model.block = BlockKind::residual;
  c.model.in_features = 1 + rng() % 6;
  c.model.loss = rng() % 2 ? LossKind::cross_entropy : LossKind::mse;
  c.model.out_features = 2 + rng() % 5;
  c.model.batch = rng() % 2 ? 16 : 3 + rng() % 20;
  c.model.activation = static_cast<Activation>(1 + rng() % 3);
  c.model.norm = rng() % 3 ? Norm::layernorm : Norm::none;
  c.model.expand = 1 + rng() % 3;
  c.model.hidden_widths.assign(blocks, 4 + rng() % 24);
  c.chain = build_chain(c.model);
  c.label = std::to_string(blocks) + " blocks of " + std::to_string(c.model.hidden_widths[0]) + " x" +
            std::to_string(c.model.expand) + ", " + to_string(c.model.norm) + ", " + to_string(c.model.activation) +
            ", batch " + std::to_string(c.model.batch);
  return c;
}

// Per checkpoint instance of an output_derivable layer made keeping its pre-activation, the calls
// of `calls` (keep_tape placed) that first read it in each window after the one that made it
// (the first pass ends at the loss, so the backward after the loss reads in a later window).
inline std::vector<std::vector<std::size_t>> derivable_reads(const Chain& chain, const std::vector<ScheduleCall>& calls) {
  const std::size_t n = chain.size();
  std::vector<std::size_t> made_at(n, kNone), made_window(n, 0);
  std::vector<bool> made_keeping(n, false);
  std::vector<std::vector<std::size_t>> reads;  // per eligible instance
  std::vector<std::size_t> instance_of, last_window;  // per eligible instance: where made, the last window read
  std::size_t window = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const ScheduleCall& call = calls[i];
    const std::size_t read = call.kind == OpKind::loss ? n - 1 : call.layer > 0 ? call.layer - 1 : kNone;
    if (read != kNone && made_window[read] < window && made_keeping[read] && output_derivable(chain.layers[read])) {
      const std::size_t e = std::find(instance_of.begin(), instance_of.end(), made_at[read]) - instance_of.begin();
      if (e == instance_of.size()) {
        instance_of.push_back(made_at[read]);
        reads.emplace_back();
        last_window.push_back(kNone);
      }
      if (last_window[e] != window) reads[e].push_back(i);
      last_window[e] = window;
    }
    if (call.kind == OpKind::forward || call.kind == OpKind::recompute) {
      made_at[call.layer] = i;
      made_window[call.layer] = window;
      made_keeping[call.layer] = call.keep_tape;
    }
    if (call.kind == OpKind::backward || call.kind == OpKind::loss) ++window;
  }
  return reads;
}

// The op-level variants of a complete schedule whose keep_tape flags are placed: each checkpoint
// of derivable_reads either held until its last reader, or re-derived before each of its reads
// there. The first variant is `calls` itself.
inline std::vector<std::vector<ScheduleCall>> derive_variants(const Chain& chain, const std::vector<ScheduleCall>& calls) {
  const std::vector<std::vector<std::size_t>> reads = derivable_reads(chain, calls);
  std::vector<std::vector<ScheduleCall>> variants;
  for (std::size_t mask = 0; mask < (std::size_t{1} << reads.size()); ++mask) {
    std::vector<bool> derive_at(calls.size(), false);
    for (std::size_t e = 0; e < reads.size(); ++e)
      if (mask >> e & 1)
        for (std::size_t i : reads[e]) derive_at[i] = true;
    std::vector<ScheduleCall> variant;
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const std::size_t read = calls[i].kind == OpKind::loss ? chain.size() - 1 : calls[i].layer - 1;
      if (derive_at[i]) variant.push_back({OpKind::derive, read, false});
      variant.push_back(calls[i]);
    }
    variants.push_back(std::move(variant));
  }
  return variants;
}

// The schedule space of budget.h, enumerated as builder call sequences, independently of the
// dynamic program: the first pass and the loss, then for g = n-1..0 a window (nothing, or a run
// c+1..e with e in {g-1, g}) and backward(g), subject to persistence. keep_tape goes on the last
// computation of each GELU layer before its backward. Each complete schedule is built with
// ScheduleBuilder; `visit` gets the finished plan.
class ExhaustiveSearch {
 public:
  ExhaustiveSearch(const TestChain& c) : c_(c), n_(c.chain.size()) {}

  // Every schedule: calls `visit(plan)` for each; with op_level, every derive_variants of each.
  template <typename Visit>
  std::size_t enumerate_all(Visit visit, bool op_level = false) {
    op_level_ = op_level;
    budget_ = kNone;
    visit_all_ = [&](const Plan& plan) { visit(plan); };
    start();
    return leaves_;
  }

  // Branch and bound for one budget: a partial schedule is dropped when its recompute cost is
  // not below the best complete one, or when its partial activation peak (measured by building
  // the prefix: lifetimes only grow as ops are added) exceeds the budget. Returns the least cost,
  // or kNone when nothing fits.
  std::size_t best_within(std::size_t budget) {
    budget_ = budget;
    best_ = kNone;
    visit_all_ = nullptr;
    start();
    return best_;
  }

  std::size_t nodes() const { return nodes_; }
  std::size_t op_level_variants() const { return variants_; }

 private:
  bool needs_tape(std::size_t j) const { return saved_for_backward(c_.chain.layers[j]) != SavedForBackward::nothing; }

  void start() {
    leaves_ = nodes_ = 0;
    calls_.clear();
    for (std::size_t j = 0; j < n_; ++j) calls_.push_back({OpKind::forward, j, false});
    calls_.push_back({OpKind::loss, 0, false});
    made_in_window_.assign(n_, 0);
    pinned_.assign(n_, false);
    window(n_, 0);
  }

  // keep_tape on the last computation of each layer before its backward (only for backwards
  // already in `calls`: for a prefix this leaves out pre-activations kept for later, a lower bound).
  std::vector<ScheduleCall> with_kept_pre(std::vector<ScheduleCall> calls) const {
    std::vector<std::size_t> last(n_, kNone);
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].kind == OpKind::forward || calls[i].kind == OpKind::recompute) last[calls[i].layer] = i;
      if (calls[i].kind == OpKind::backward) calls[last[calls[i].layer]].keep_tape = true;
    }
    return calls;
  }

  Plan build(const std::vector<ScheduleCall>& calls) const {
    return build_schedule(c_.chain, c_.model, StepContext{}, with_kept_pre(calls), "exhaustive", "", Offsets::skip);
  }
  void visit_leaf() {
    if (!op_level_) return visit_all_(build(calls_));
    for (const std::vector<ScheduleCall>& variant : derive_variants(c_.chain, with_kept_pre(calls_))) {
      visit_all_(build_schedule(c_.chain, c_.model, StepContext{}, variant, "exhaustive", "", Offsets::skip));
      ++variants_;
    }
  }

  void window(std::size_t g_plus_one, std::size_t cost) {
    ++nodes_;
    if (budget_ != kNone) {
      if (best_ != kNone && cost >= best_) return;
      if (build(calls_).activation_peak_bytes > budget_) return;
    }
    if (g_plus_one == 0) {
      ++leaves_;
      if (budget_ == kNone) {
        visit_leaf();
      } else {
        best_ = cost;  // fits (the bound above is exact for a complete schedule) and is cheaper
      }
      return;
    }
    const std::size_t g = g_plus_one - 1;
    const std::size_t w = n_ - g;  // this window's number; the first pass is window 0
    // Options: no recompute first (cheap ones first find a good bound early), then runs.
    struct Run {
      long c;
      long e;
    };
    std::vector<Run> runs{{-2, -2}};
    for (long e : {static_cast<long>(g) - 1, static_cast<long>(g)}) {
      if (e < 0 || (e == static_cast<long>(g) && !needs_tape(g))) continue;
      for (long c = e - 1; c >= -1; --c) runs.push_back({c, e});
    }
    for (const Run& run : runs) {
      const std::size_t size_before = calls_.size();
      const std::vector<std::size_t> made_before = made_in_window_;
      const std::vector<bool> pinned_before = pinned_;
      std::size_t added = 0;
      bool valid = true;
      if (run.c != -2) {
        if (run.c >= 0 && made_in_window_[static_cast<std::size_t>(run.c)] < w) pinned_[static_cast<std::size_t>(run.c)] = true;
        for (long j = run.c + 1; j <= run.e; ++j) {
          const std::size_t layer = static_cast<std::size_t>(j);
          if (pinned_[layer]) {
            valid = false;  // would replace a checkpoint before its layer's backward
            break;
          }
          calls_.push_back({OpKind::recompute, layer, false});
          made_in_window_[layer] = w;
          added += c_.chain.layers[layer].forward_flops;
        }
      }
      if (valid) {
        calls_.push_back({OpKind::backward, g, false});
        if (g > 0) pinned_[g - 1] = false;  // backward(g) reads the kept instance of layer g-1
        window(g, cost + added);
      }
      calls_.resize(size_before);
      made_in_window_ = made_before;
      pinned_ = pinned_before;
    }
  }

  const TestChain& c_;
  std::size_t n_;
  std::vector<ScheduleCall> calls_;
  std::vector<std::size_t> made_in_window_;
  std::vector<bool> pinned_;
  std::size_t budget_ = kNone, best_ = kNone, leaves_ = 0, nodes_ = 0, variants_ = 0;
  bool op_level_ = false;
  std::function<void(const Plan&)> visit_all_;
};

struct Point {
  std::size_t peak;
  std::size_t cost;
};

// Least cost per budget from a list of (peak, cost): the Pareto frontier, peak ascending.
inline std::vector<Point> frontier(std::vector<Point> points) {
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.peak != b.peak ? a.peak < b.peak : a.cost < b.cost;
  });
  std::vector<Point> front;
  for (const Point& p : points)
    if (front.empty() || p.cost < front.back().cost) front.push_back(p);
  return front;
}

// The least cost within `budget` on a frontier (peak ascending, cost falling); kNone below it.
inline std::size_t cost_within(const std::vector<Point>& front, std::size_t budget) {
  std::size_t cost = kNone;
  for (const Point& p : front)
    if (p.peak <= budget) cost = p.cost;
  return cost;
}

// An objective as the tests read it back from a finished plan: recomputed FLOPs exactly, or the
// predicted step time less the none plan's, in picoseconds, within the rounding of the DP's
// per-unit costs (half a picosecond per recompute; n^2 bounds the recomputes of these chains).
// With BudgetMemory::activations_and_gradients the peak is read as the plan's live bytes less
// its persistent ones (the test chains' plans have per-layer updates).
struct PlanObjective {
  StepContext context;  // the default profile; context.objective says which
  BudgetMemory memory = BudgetMemory::activations;
  std::size_t none_ps = 0;
  std::size_t tolerance = 0;

  bool op_level = false;  // the planner's space has derives (time objective only)
  bool drops = false;     // and drop-and-re-derive

  PlanObjective(const TestChain& c, Objective objective, BudgetMemory counted = BudgetMemory::activations,
                bool op_level_space = false, bool drop_space = false)
      : memory(counted), op_level(op_level_space), drops(drop_space) {
    context.objective = objective;
    if (objective == Objective::time) {
      none_ps = picoseconds(make_plan(c.model, context, parse_plan("none")).predicted_step_ms);
      tolerance = c.chain.size() * c.chain.size();
    }
  }
  static std::size_t picoseconds(double ms) { return static_cast<std::size_t>(std::llround(ms * kPicosecondsPerMs)); }
  BudgetPlanner planner(const TestChain& c) const {
    PlanningLimits limits;
    limits.drop_units = drops ? c.chain.size() : 0;
    if (op_level) return BudgetPlanner::for_objective(c.chain, c.model, context, memory, limits);
    return BudgetPlanner(c.chain, unit_recompute_costs(c.chain, c.model, context), memory, limits, {}, drops);
  }
  std::size_t peak_of(const Plan& plan) const {
    if (memory == BudgetMemory::activations) return plan.activation_peak_bytes;
    std::size_t persistent = 0;
    for (const Buffer& buffer : plan.buffers)
      if (buffer.persistent) persistent += buffer.footprint;
    return plan.live_peak_bytes - persistent;
  }
  // The plan's cost (its predicted time filled in here for the time objective).
  std::size_t cost_of(Plan plan) const {
    if (context.objective == Objective::flops) return plan.recompute_flops;
    predict_step_time(plan, KernelTimer(profile_of(context), "test"));
    return picoseconds(plan.predicted_step_ms) - none_ps;
  }
  bool same(std::size_t a, std::size_t b) const {
    if (a == kNone || b == kNone) return a == b;
    return (a > b ? a - b : b - a) <= tolerance;
  }
};

// Solves `budget` with both solvers, builds each plan and checks it against the solver's own
// numbers and the invariants; returns the objective's cost (kNone when infeasible).
inline std::size_t solve_and_check(BudgetPlanner& planner, const TestChain& c, std::size_t budget,
                                   const PlanObjective& objective) {
  std::size_t cost[2] = {kNone, kNone};
  for (BudgetSolver solver : {BudgetSolver::recursive, BudgetSolver::lattice}) {
    const std::size_t i = solver == BudgetSolver::lattice ? 1 : 0;
    CAPTURE(i);
    const std::optional<BudgetSchedule> schedule = planner.solve(budget, solver);
    if (!schedule) continue;
    const Plan plan = build_schedule(c.chain, c.model, objective.context, schedule->calls, "budget", "");
    CHECK(objective.peak_of(plan) == schedule->activation_peak_bytes);
    CHECK(plan.recompute_flops == schedule->recompute_flops);
    CHECK(objective.same(objective.cost_of(plan), schedule->cost));  // the DP's cost is the plan's
    CHECK(objective.peak_of(plan) <= budget);
    egc::testing::check_plan_invariants(plan);
    cost[i] = schedule->cost;
  }
  CHECK(cost[0] == cost[1]);  // both optimal; the plans may differ among equally cheap ones
  return cost[0];
}
inline std::size_t solve_and_check(BudgetPlanner& planner, const TestChain& c, std::size_t budget) {
  return solve_and_check(planner, c, budget, PlanObjective(c, Objective::flops));
}

// The planner of `objective` against the frontier of `all` (every schedule of its space, measured):
// its smallest peak, and both solvers at every breakpoint, just below it and between. Returns the
// budgets checked.
inline std::size_t check_against_frontier(const TestChain& c, std::mt19937_64& rng, const PlanObjective& objective,
                                          const std::vector<Point>& all) {
  const std::vector<Point> front = frontier(all);
  BudgetPlanner planner = objective.planner(c);
  CHECK(planner.min_activation_peak() == front.front().peak);
  // Every breakpoint, the bytes just below it, and one between: in shuffled order, so the
  // planner's memo of solved intervals is exercised across budgets.
  std::vector<std::size_t> queries;
  for (std::size_t i = 0; i < front.size(); ++i) {
    queries.push_back(front[i].peak);
    queries.push_back(front[i].peak - 1);
    if (i + 1 < front.size()) queries.push_back((front[i].peak + front[i + 1].peak) / 2);
  }
  queries.push_back(front.back().peak + 1000);
  std::shuffle(queries.begin(), queries.end(), rng);
  for (std::size_t budget : queries) {
    CAPTURE(budget);
    const std::size_t expected = cost_within(front, budget);
    const std::size_t found = solve_and_check(planner, c, budget, objective);
    CAPTURE(found);
    CAPTURE(expected);
    CHECK(objective.same(found, expected));
  }
  return queries.size();
}

// Every schedule of `c` enumerated and measured (the objective's cost read from each finished
// plan); both solvers checked at every breakpoint of the frontier, just below it and between.
// Returns (budgets, schedules).
inline std::pair<std::size_t, std::size_t> check_against_every_schedule(
    const TestChain& c, std::mt19937_64& rng, Objective which = Objective::flops,
    BudgetMemory memory = BudgetMemory::activations, bool op_level = false) {
  const PlanObjective objective(c, which, memory, op_level);
  std::vector<Point> all;
  ExhaustiveSearch search(c);
  search.enumerate_all([&](const Plan& plan) { all.push_back({objective.peak_of(plan), objective.cost_of(plan)}); },
                       op_level);
  return {check_against_frontier(c, rng, objective, all), all.size()};
}

// The branch-and-bound search against both solvers at five budgets from the smallest feasible to
// none's peak, and just below the smallest. Returns (budgets, partial schedules built).
inline std::pair<std::size_t, std::size_t> check_against_branch_and_bound(const TestChain& c) {
  BudgetPlanner planner(c.chain);
  const std::size_t low = planner.min_activation_peak();
  const std::size_t high = make_plan(c.model, StepContext{}, parse_plan("none")).activation_peak_bytes;
  ExhaustiveSearch search(c);
  std::size_t budgets = 0, nodes = 0;
  for (std::size_t step = 0; step <= 4; ++step) {
    const std::size_t budget = low + (high - low) * step / 4;
    CAPTURE(budget);
    const std::size_t expected = search.best_within(budget);
    nodes += search.nodes();
    CHECK(solve_and_check(planner, c, budget) == expected);
    ++budgets;
  }
  CHECK(search.best_within(low - 1) == kNone);
  CHECK(!planner.solve(low - 1));
  return {budgets, nodes};
}

// Checks `trials` chains, make(trial) each, with check(chain) -> (budgets, work); returns the
// chains, budgets and work in all.
struct Tally {
  std::size_t chains = 0, budgets = 0, work = 0;
};
template <class Make, class Check>
Tally tally(int trials, Make&& make, Check&& check) {
  Tally total;
  for (int trial = 0; trial < trials; ++trial) {
    const TestChain c = make(trial);
    INFO(c.label);
    const auto [budgets, work] = check(c);
    total.budgets += budgets;
    total.work += work;
    ++total.chains;
  }
  return total;
}

}  // namespace egc::testing
