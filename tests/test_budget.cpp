// Budget plans: the dynamic program against an exhaustive search of the schedule space (every
// schedule built with ScheduleBuilder and measured), against sqrtn at sqrtn's own peak, and the
// infeasible-budget error; chen-greedy plans pass the plan invariants.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "planner/auto_plan.h"
#include "planner/budget.h"
#include "planner/chen_greedy.h"
#include "planner/errors.h"
#include "planner/lower_hull.h"
#include "planner/make_plan.h"
#include "planner/units.h"
#include "plan_checks.h"

using namespace egc;

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

struct TestChain {
  ModelSpec model;
  Chain chain;
  std::string label;
};

TestChain make_test_chain(std::mt19937_64& rng, std::size_t layers, bool equal, Activation activation) {
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
TestChain make_block_chain(std::mt19937_64& rng, std::size_t blocks) {
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

// The schedule space of budget.h, enumerated as builder call sequences, independently of the
// dynamic program: the first pass and the loss, then for g = n-1..0 a window (nothing, or a run
// c+1..e with e in {g-1, g}) and backward(g), subject to persistence. keep_tape goes on the last
// computation of each GELU layer before its backward. Each complete schedule is built with
// ScheduleBuilder; `visit` gets the finished plan.
class ExhaustiveSearch {
 public:
  ExhaustiveSearch(const TestChain& c) : c_(c), n_(c.chain.size()) {}

  // Every schedule: calls `visit(plan)` for each.
  template <typename Visit>
  std::size_t enumerate_all(Visit visit) {
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

  void window(std::size_t g_plus_one, std::size_t cost) {
    ++nodes_;
    if (budget_ != kNone) {
      if (best_ != kNone && cost >= best_) return;
      if (build(calls_).activation_peak_bytes > budget_) return;
    }
    if (g_plus_one == 0) {
      ++leaves_;
      if (budget_ == kNone) {
        visit_all_(build(calls_));
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
  std::size_t budget_ = kNone, best_ = kNone, leaves_ = 0, nodes_ = 0;
  std::function<void(const Plan&)> visit_all_;
};

struct Point {
  std::size_t peak;
  std::size_t cost;
};

// Least cost per budget from a list of (peak, cost): the Pareto frontier, peak ascending.
std::vector<Point> frontier(std::vector<Point> points) {
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.peak != b.peak ? a.peak < b.peak : a.cost < b.cost;
  });
  std::vector<Point> front;
  for (const Point& p : points)
    if (front.empty() || p.cost < front.back().cost) front.push_back(p);
  return front;
}

// Solves `budget` with both solvers, builds each plan and checks it against the solver's own
// numbers and the invariants; returns the recompute cost (kNone when infeasible).
std::size_t solve_and_check(BudgetPlanner& planner, const TestChain& c, std::size_t budget) {
  std::size_t cost[2] = {kNone, kNone};
  for (BudgetSolver solver : {BudgetSolver::recursive, BudgetSolver::lattice}) {
    const std::size_t i = solver == BudgetSolver::lattice ? 1 : 0;
    CAPTURE(i);
    const std::optional<BudgetSchedule> schedule = planner.solve(budget, solver);
    if (!schedule) continue;
    const Plan plan = build_schedule(c.chain, c.model, StepContext{}, schedule->calls, "budget", "");
    CHECK(plan.activation_peak_bytes == schedule->activation_peak_bytes);
    CHECK(plan.recompute_flops == schedule->recompute_flops);
    CHECK(plan.activation_peak_bytes <= budget);
    egc::testing::check_plan_invariants(plan);
    cost[i] = schedule->recompute_flops;
  }
  CHECK(cost[0] == cost[1]);  // both optimal; the plans may differ among equally cheap ones
  return cost[0];
}

// Every schedule of `c` enumerated and measured; both solvers checked at every breakpoint of the
// frontier, just below it and between. Returns (budgets, schedules).
std::pair<std::size_t, std::size_t> check_against_every_schedule(const TestChain& c, std::mt19937_64& rng) {
  std::vector<Point> all;
  ExhaustiveSearch search(c);
  const std::size_t schedules = search.enumerate_all([&](const Plan& plan) {
    all.push_back({plan.activation_peak_bytes, plan.recompute_flops});
  });
  const std::vector<Point> front = frontier(all);
  BudgetPlanner planner(c.chain);
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
    std::size_t expected = kNone;
    for (const Point& p : front)
      if (p.peak <= budget) expected = p.cost;  // the frontier's cost falls as the peak rises
    CHECK(solve_and_check(planner, c, budget) == expected);
  }
  return {queries.size(), schedules};
}

}  // namespace

TEST_CASE("budget equals an exhaustive search of all schedules (n <= 7: every schedule)") {
  std::mt19937_64 rng(6061);
  std::size_t chains = 0, budgets = 0, schedules = 0;
  for (int trial = 0; trial < 36; ++trial) {
    const std::size_t layers = trial < 30 ? 1 + trial % 6 : 7;
    const Activation activation = static_cast<Activation>(1 + trial % 3);
    const TestChain c = make_test_chain(rng, layers, trial % 4 < 2, activation);
    INFO(c.label);
    const auto [queries, built] = check_against_every_schedule(c, rng);
    budgets += queries;
    schedules += built;
    ++chains;
  }
  MESSAGE("dynamic program == exhaustive optimum on " << chains << " chains (1-7 layers), " << budgets
                                                    << " budgets; " << schedules << " schedules built and measured");
}

TEST_CASE("residual blocks and dropout: budget equals an exhaustive search of all schedules") {
  std::mt19937_64 rng(2112);
  std::size_t chains = 0, budgets = 0, schedules = 0;
  for (int trial = 0; trial < 24; ++trial) {
    // Blocks (units: projection, 1-5 blocks, head), then plain chains with dropout, whose tanh
    // layers keep their pre-activation (their output is scaled) and relu layers their output.
    TestChain c;
    if (trial < 18) {
      c = make_block_chain(rng, 1 + trial % 5);
    } else {
      c = make_test_chain(rng, 2 + trial % 5, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
      c.model.dropout = 0.25;
      c.chain = build_chain(c.model);
      c.label += ", dropout";
    }
    INFO(c.label);
    const auto [queries, built] = check_against_every_schedule(c, rng);
    budgets += queries;
    schedules += built;
    ++chains;
  }
  MESSAGE("dynamic program == exhaustive optimum on " << chains << " block and dropout chains (3-7 units), "
                                                    << budgets << " budgets; " << schedules
                                                    << " schedules built and measured");
}

namespace {

// The branch-and-bound search against both solvers at five budgets from the smallest feasible to
// none's peak, and just below the smallest. Returns (budgets, partial schedules built).
std::pair<std::size_t, std::size_t> check_against_branch_and_bound(const TestChain& c) {
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

}  // namespace

TEST_CASE("budget equals a branch-and-bound exhaustive search for 8 to 10 layers") {
  std::mt19937_64 rng(1911);
  std::size_t chains = 0, budgets = 0, nodes = 0;
  for (int trial = 0; trial < 9; ++trial) {
    const std::size_t layers = 8 + trial % 3;
    const TestChain c = make_test_chain(rng, layers, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
    INFO(c.label);
    const auto [checked, built] = check_against_branch_and_bound(c);
    budgets += checked;
    nodes += built;
    ++chains;
  }
  MESSAGE("dynamic program == branch-and-bound optimum on " << chains << " chains (8-10 layers), " << budgets
                                                         << " budgets; " << nodes << " partial schedules built");
}

TEST_CASE("residual blocks: budget equals a branch-and-bound exhaustive search for 8 and 9 units") {
  std::mt19937_64 rng(1606);
  std::size_t chains = 0, budgets = 0, nodes = 0;
  for (int trial = 0; trial < 4; ++trial) {
    const TestChain c = make_block_chain(rng, 6 + trial % 2);
    INFO(c.label);
    const auto [checked, built] = check_against_branch_and_bound(c);
    budgets += checked;
    nodes += built;
    ++chains;
  }
  MESSAGE("dynamic program == branch-and-bound optimum on " << chains << " residual chains (8-9 units), " << budgets
                                                         << " budgets; " << nodes << " partial schedules built");
}

TEST_CASE("residual blocks: at sqrtn's own activation peak, budget recomputes no more than sqrtn") {
  std::mt19937_64 rng(4243);
  std::size_t strictly_less = 0;
  for (int trial = 0; trial < 30; ++trial) {
    const TestChain c = make_block_chain(rng, 1 + rng() % 40);
    INFO(c.label);
    const Plan sqrtn = make_plan(c.model, StepContext{}, parse_plan("sqrtn"));
    BudgetPlanner planner(c.chain);
    const std::size_t cost = solve_and_check(planner, c, sqrtn.activation_peak_bytes);
    REQUIRE(cost != kNone);
    CHECK(cost <= sqrtn.recompute_flops);
    strictly_less += cost < sqrtn.recompute_flops;
  }
  MESSAGE("residual blocks at sqrtn's peak: budget <= sqrtn on 30 chains, strictly less on " << strictly_less);
}

TEST_CASE("at sqrtn's own activation peak, budget recomputes no more than sqrtn") {
  std::mt19937_64 rng(4242);
  std::size_t chains[2] = {0, 0}, strictly_less[2] = {0, 0};  // [equal widths, unequal widths]
  double saved_points[2] = {0, 0}, largest = 0;
  std::string largest_label;
  for (int trial = 0; trial < 120; ++trial) {
    const std::size_t layers = trial % 10 == 0 ? 100 + rng() % 200 : 2 + rng() % 60;
    const bool equal = trial % 2 == 0;
    const TestChain c = make_test_chain(rng, layers, equal, static_cast<Activation>(1 + trial % 3));
    INFO(c.label);
    const Plan sqrtn = make_plan(c.model, StepContext{}, parse_plan("sqrtn"));
    BudgetPlanner planner(c.chain);
    const std::size_t cost = solve_and_check(planner, c, sqrtn.activation_peak_bytes);
    REQUIRE(cost != kNone);
    CHECK(cost <= sqrtn.recompute_flops);
    ++chains[equal ? 0 : 1];
    if (cost < sqrtn.recompute_flops) {
      // Saved recomputation in percentage points of one forward pass.
      const double points = 100.0 * static_cast<double>(sqrtn.recompute_flops - cost) / sqrtn.forward_flops;
      ++strictly_less[equal ? 0 : 1];
      saved_points[equal ? 0 : 1] += points;
      if (layers >= 20 && points > largest) {
        largest = points;
        largest_label = c.label;
      }
    }
  }
  // README.md's figures ("What the tests establish"): the chains are seeded, so the counts are
  // exact (60 of each kind by construction); averages and the largest to the whole point it states.
  const struct { std::size_t strictly_less; long average; } expected[2] = {{8, 11}, {55, 20}};
  for (int kind : {0, 1}) {
    const double average = strictly_less[kind] ? saved_points[kind] / strictly_less[kind] : 0.0;
    CHECK(strictly_less[kind] == expected[kind].strictly_less);
    CHECK(std::lround(average) == expected[kind].average);
    MESSAGE("at sqrtn's peak, " << std::string(kind == 0 ? "equal" : "unequal") << " widths: budget <= sqrtn on all "
                                << chains[kind] << " chains, strictly less on " << strictly_less[kind]
                                << ", saving on average " << average << " points of a forward pass where it does");
  }
  CHECK(std::lround(largest) == 36);  // over chains of 20 layers or more; shorter ones save up to 70
  MESSAGE("largest saving on a chain of 20 layers or more: " << largest << " points (" << largest_label << ")");
}

TEST_CASE("figures: budget against sqrtn at sqrtn's peak for equal chains") {
  for (std::size_t hidden : {15, 63, 255}) {
    ModelSpec model;
    model.hidden_widths.assign(hidden, 512);
    model.batch = 256;
    const Chain chain = build_chain(model);
    const Plan sqrtn = make_plan(model, StepContext{}, parse_plan("sqrtn"));
    BudgetPlanner planner(chain);
    const std::optional<BudgetSchedule> schedule = planner.solve(sqrtn.activation_peak_bytes);
    REQUIRE(schedule);
    CHECK(schedule->recompute_flops <= sqrtn.recompute_flops);
    MESSAGE((hidden + 1) << " layers: at sqrtn's peak " << format_bytes(sqrtn.activation_peak_bytes) << ", sqrtn recomputes "
                       << 100.0 * sqrtn.recompute_flops / sqrtn.forward_flops << "% of a forward pass, budget "
                       << 100.0 * schedule->recompute_flops / sqrtn.forward_flops << "% (peak "
                       << format_bytes(schedule->activation_peak_bytes) << "); smallest feasible "
                       << format_bytes(planner.min_activation_peak()));
  }
}

TEST_CASE("an infeasible budget is a UsageError stating the smallest feasible budget") {
  ModelSpec model;
  model.hidden_widths.assign(6, 64);
  const Chain chain = build_chain(model);
  const std::size_t smallest = BudgetPlanner(chain).min_activation_peak();
  const PlanSpec spec = parse_plan("budget:" + std::to_string(smallest - 1));
  try {
    make_plan(model, StepContext{}, spec);
    FAIL("accepted");
  } catch (const UsageError& e) {
    const std::string message = e.what();
    CHECK(message.rfind("--plan budget:", 0) == 0);
    CHECK(message.find("smallest feasible activation peak") != std::string::npos);
    CHECK(message.find(std::to_string(smallest) + " B") != std::string::npos);
    CHECK(message.find(format_bytes(smallest)) != std::string::npos);
  }
  const Plan plan = make_plan(model, StepContext{}, parse_plan("budget:" + std::to_string(smallest)));
  CHECK(plan.activation_peak_bytes == smallest);
  egc::testing::check_plan_invariants(plan);
}

TEST_CASE("a planner reused across budgets answers as fresh ones do") {
  std::mt19937_64 rng(77);
  for (int trial = 0; trial < 6; ++trial) {
    const TestChain c = make_test_chain(rng, 30 + rng() % 40, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
    INFO(c.label);
    BudgetPlanner shared(c.chain);
    const std::size_t low = shared.min_activation_peak();
    const std::size_t high = make_plan(c.model, StepContext{}, parse_plan("none")).activation_peak_bytes;
    std::vector<std::size_t> budgets;
    for (int i = 0; i < 12; ++i) budgets.push_back(low + (high - low) * (rng() % 1000) / 999);
    for (std::size_t budget : budgets) {
      BudgetPlanner fresh(c.chain);
      const auto a = shared.solve(budget), b = fresh.solve(budget);
      REQUIRE(a);
      REQUIRE(b);
      CHECK(a->recompute_flops == b->recompute_flops);
      CHECK(a->activation_peak_bytes == b->activation_peak_bytes);
    }
    // Enough memory for everything: nothing is recomputed.
    CHECK(shared.solve(high)->recompute_flops == 0);
  }
}

TEST_CASE("chen-greedy: Algorithm 3's choices, its search, and plans that pass the invariants") {
  ModelSpec model;
  model.hidden_widths.assign(9, 64);
  model.batch = 1;  // every output (64 floats, or 1) is one 256-byte unit
  const Chain chain = build_chain(model);
  // b = 0 keeps every hidden output; b >= everything keeps none; b = 2 units keeps every third.
  CHECK(chen_greedy_checkpoints(chain, 0).checkpoints.size() == 9);
  CHECK(chen_greedy_checkpoints(chain, 1u << 30).checkpoints.empty());
  const GreedyCheckpoints third = chen_greedy_checkpoints(chain, 2 * 256);
  CHECK(third.checkpoints == std::vector<std::size_t>{2, 5, 8});
  CHECK(third.stored_bytes == 3 * 256);
  CHECK(third.largest_stage_bytes == 3 * 256);
  model.activation = Activation::gelu;  // a GELU layer also keeps its pre-activation: 2 units
  CHECK(chen_greedy_checkpoints(build_chain(model), 2 * 256).checkpoints == std::vector<std::size_t>{1, 3, 5, 7});

  std::mt19937_64 rng(1604);
  for (int trial = 0; trial < 40; ++trial) {
    const TestChain c = make_test_chain(rng, 2 + rng() % 50, trial % 2 == 0, static_cast<Activation>(1 + trial % 3));
    INFO(c.label);
    const std::vector<GreedyCandidate> runs = chen_search(c.chain, c.model, StepContext{});
    CHECK(runs.size() >= 3);
    CHECK(runs.size() <= 9);
    CHECK(runs.front().greedy.threshold == 0);
    const Plan chosen = make_plan(c.model, StepContext{}, parse_plan("chen-greedy"));
    egc::testing::check_plan_invariants(chosen);
    for (const GreedyCandidate& run : runs) CHECK(chosen.activation_peak_bytes <= run.activation_peak_bytes);
    // Within its own peak, the best greedy plan is at least as cheap; the budget plan cheaper still.
    const std::string size = std::to_string(chosen.activation_peak_bytes);
    const Plan within = make_plan(c.model, StepContext{}, parse_plan("chen-greedy:" + size));
    egc::testing::check_plan_invariants(within);
    CHECK(within.activation_peak_bytes <= chosen.activation_peak_bytes);
    CHECK(within.recompute_flops <= chosen.recompute_flops);
    const Plan budget = make_plan(c.model, StepContext{}, parse_plan("budget:" + size));
    CHECK(budget.recompute_flops <= within.recompute_flops);
  }
  ModelSpec small;
  small.hidden_widths.assign(4, 16);
  CHECK_THROWS_AS(make_plan(small, StepContext{}, parse_plan("chen-greedy:1")), UsageError);
}

TEST_CASE("auto: the fastest plan whose arena fits the limit, and why") {
  ModelSpec model;
  model.hidden_widths.assign(40, 256);
  model.batch = 64;
  StepContext context;
  context.dataset_rows = 1000;
  const Plan none = make_plan(model, context, parse_plan("none"));

  CHECK_THROWS_AS(make_plan(model, context, parse_plan("auto")), UsageError);  // no limit given

  context.memory_limit_source = MemoryLimitSource::user;
  context.memory_limit_bytes = none.arena_bytes;
  const Plan roomy = make_plan(model, context, parse_plan("auto"));
  CHECK(roomy.recompute_flops == 0);
  CHECK(roomy.description.find("none fits") != std::string::npos);

  context.memory_limit_bytes = none.arena_bytes - 1;
  const Plan tight = make_plan(model, context, parse_plan("auto"));
  egc::testing::check_plan_invariants(tight);
  CHECK(tight.arena_bytes <= context.memory_limit_bytes);
  CHECK(tight.recompute_flops > 0);
  CHECK(tight.description.find("none needs " + format_bytes(none.arena_bytes)) != std::string::npos);
  // The least recomputation within the limit: the budget plan for the activation room left.
  const std::size_t persistent = none.arena_bytes - none.activation_peak_bytes;
  const Plan budget = make_plan(model, StepContext{1000, 0},
                                parse_plan("budget:" + std::to_string(context.memory_limit_bytes - persistent)));
  CHECK(tight.recompute_flops == budget.recompute_flops);

  context.memory_limit_bytes = persistent;  // no room for activations at all
  try {
    make_plan(model, context, parse_plan("auto"));
    FAIL("accepted");
  } catch (const UsageError& e) {
    const std::string message = e.what();
    CHECK(message.rfind("--plan auto", 0) == 0);
    CHECK(message.find(std::to_string(persistent) + " B available") != std::string::npos);
    CHECK(message.find("smallest arena needs") != std::string::npos);
  }

  // A device's free memory keeps a margin of max(256 MiB, 5%); --max-memory none.
  StepContext device;
  device.memory_limit_source = MemoryLimitSource::device;
  device.memory_limit_bytes = std::size_t{8} << 30;
  CHECK(memory_margin(device) == (std::size_t{8} << 30) / 100 * 5);
  device.memory_limit_bytes = std::size_t{1} << 30;
  CHECK(memory_margin(device) == std::size_t{256} << 20);
  CHECK(memory_margin(context) == 0);

  // --max-memory with a fixed plan: rejected when its arena does not fit.
  context.memory_limit_bytes = none.arena_bytes - 1;
  CHECK_THROWS_AS(make_plan(model, context, parse_plan("none")), UsageError);
  CHECK_NOTHROW(make_plan(model, context, parse_plan("sqrtn")));
}

TEST_CASE("LowerHull: exact at its vertices, below every point, convex") {
  std::mt19937_64 rng(15);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::size_t> y;
    LowerHull hull;
    for (std::size_t x = 1; x <= 60; ++x) {
      y.push_back(rng() % 2 ? x * x * 1000 + rng() % 5000 : (std::size_t{1} << 62) + rng() % 100000);
      hull.append(x, y.back());
    }
    CHECK(hull.lowest() == 1);
    CHECK(hull.highest() == 60);
    for (std::size_t x = 1; x <= 60; ++x) {
      CHECK(!below(hull.at(x), 0));
      CHECK(!(Fraction{static_cast<Wide>(y[x - 1]), 1} < hull.at(x)));  // at or below the point
    }
    CHECK(hull.at(1).num == static_cast<Wide>(y[0]) * hull.at(1).den);  // the ends are vertices
    for (std::size_t x = 2; x < 60; ++x) {  // second differences are not negative
      const Fraction mid = add(hull.at(x), hull.at(x));
      CHECK(!(add(hull.at(x - 1), hull.at(x + 1)) < mid));
    }
  }
}
