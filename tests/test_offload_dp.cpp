// The three-way planner (planner/offload_plan.h): its dynamic program equals an exhaustive search
// of its space, its model bounds the finished plan, and infeasible limits are named.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/report.h"
#include "planner/offload_plan.h"
#include "planner/schedule.h"
#include "planner/step_time.h"
#include "plan_checks.h"

using namespace egc;
using egc::testing::equal_model;

namespace {

struct Setup {
  Chain chain;
  ModelSpec model;
  StepContext context;
  OffloadModel offload;
};

Setup setup_for(const ModelSpec& model, const DeviceProfile& profile) {
  StepContext context;
  context.profile = std::make_shared<DeviceProfile>(profile);
  const Chain chain = build_chain(model);
  return {chain, model, context, offload_model_of(chain, model, context, KernelTimer(profile, "test"))};
}

// A role for each of the first n-1 layers from `code` (base 3), the last kept; layer n-2 is
// never recomputed (false for codes outside the space).
bool roles_of(std::size_t code, std::vector<LayerRole>& roles) {
  for (std::size_t i = 0; i + 1 < roles.size(); ++i, code /= 3) roles[i] = static_cast<LayerRole>(code % 3);
  return roles.size() < 2 || roles[roles.size() - 2] != LayerRole::recompute;
}

// Every role vector of the space: the least model time within both limits, or -1.
double exhaustive_best_ms(const OffloadModel& model, std::size_t budget, std::size_t host) {
  std::vector<LayerRole> roles(model.n, LayerRole::keep);
  double best = -1;
  std::size_t combinations = 1;
  for (std::size_t i = 0; i + 1 < model.n; ++i) combinations *= 3;
  for (std::size_t code = 0; code < combinations; ++code) {
    if (!roles_of(code, roles)) continue;
    const OffloadModelCost cost = model_cost(model, roles);
    if (cost.device_bytes <= budget && cost.host_bytes <= host && (best < 0 || cost.step_ms < best)) best = cost.step_ms;
  }
  return best;
}

ModelSpec random_small_model(std::mt19937_64& rng) {
  ModelSpec model;
  model.hidden_widths.clear();
  const std::size_t hidden = 1 + rng() % 7;
  for (std::size_t i = 0; i < hidden; ++i) model.hidden_widths.push_back(64 * (1 + rng() % 8));
  model.in_features = 16;
  model.out_features = 4;
  model.batch = 64 * (1 + rng() % 4);
  model.activation = rng() % 2 ? Activation::gelu : Activation::relu;
  return model;
}

}  // namespace

TEST_CASE("the three-way dynamic program equals an exhaustive search of its space on small chains") {
  std::mt19937_64 rng(2021);
  std::size_t compared = 0, feasible = 0;
  for (int trial = 0; trial < 24; ++trial) {
    const ModelSpec model = random_small_model(rng);
    const Setup s = setup_for(model, trial % 2 ? default_h200_profile() : default_cpu_profile());
    const OffloadModelCost keep_all = model_cost(s.offload, std::vector<LayerRole>(s.offload.n, LayerRole::keep));
    const std::size_t total_keep = keep_all.device_bytes;
    for (int b = 0; b <= 10; ++b) {
      const std::size_t budget = total_keep * static_cast<std::size_t>(b) / 10;
      for (std::size_t host : {std::size_t{1}, total_keep / 4, total_keep}) {
        INFO("trial " << trial << ", " << s.offload.n << " layers, budget " << budget << ", host " << host);
        const double expected = exhaustive_best_ms(s.offload, budget, host);
        const std::optional<std::vector<LayerRole>> roles = solve_offload(s.offload, budget, host);
        ++compared;
        CHECK(roles.has_value() == (expected >= 0));
        if (!roles) continue;
        ++feasible;
        const OffloadModelCost cost = model_cost(s.offload, *roles);
        CHECK(cost.device_bytes <= budget);
        CHECK(cost.host_bytes <= host);
        CHECK(cost.step_ms == doctest::Approx(expected).epsilon(1e-12));
      }
    }
  }
  CHECK(compared == 24 * 11 * 3);
  CHECK(feasible > compared / 3);
}

TEST_CASE("the model bounds the finished plan's activation peak and gives its host arena exactly") {
  std::mt19937_64 rng(6);
  for (int trial = 0; trial < 8; ++trial) {
    const ModelSpec model = random_small_model(rng);
    const Setup s = setup_for(model, default_h200_profile());
    for (std::size_t draw = 0; draw < 15; ++draw) {
      std::vector<LayerRole> roles(s.offload.n, LayerRole::keep);
      if (!roles_of(rng(), roles)) continue;
      const std::size_t code = draw;
      const OffloadModelCost cost = model_cost(s.offload, roles);
      Plan plan = build_roles_plan(s.chain, s.model, s.context, roles, "roles", "test");
      predict_step_time(plan, KernelTimer(default_h200_profile(), "test"));
      std::string text;
      for (LayerRole role : roles) text += "RKO"[static_cast<int>(role)];
      INFO("trial " << trial << ", draw " << code << ": " << text);
      egc::testing::check_plan_invariants(plan);
      CHECK(plan.activation_peak_bytes <= cost.device_bytes);
      if (plan.activation_peak_bytes > cost.device_bytes) {
        std::string keeps;
        for (std::size_t k : s.offload.keep_bytes) keeps += std::to_string(k) + " ";
        MESSAGE(keeps << " G " << s.offload.gradient_bytes << " fx " << s.offload.forward_extra << "\n" << format_schedule(plan, ScheduleDetail::full));
      }
      CHECK(plan.host_arena_bytes == cost.host_bytes);
      // Without offloads the modelled time is the plan's (one stream: the sum of its ops).
      if (cost.host_bytes == 0) CHECK(plan.predicted_step_ms == doctest::Approx(cost.step_ms));
    }
  }
}

TEST_CASE("budget:SIZE with --host-memory plans three ways, and an infeasible budget names the smallest for both arenas") {
  const ModelSpec model = equal_model(16, 1024, 256);
  StepContext context;
  context.profile = std::make_shared<DeviceProfile>(default_h200_profile());
  const Plan none = make_plan(model, context, parse_plan("none"));
  const std::size_t budget = none.activation_peak_bytes / 3;
  context.host_memory_bytes = std::size_t{1} << 30;
  const Plan three_way = make_plan(model, context, parse_plan("budget:" + std::to_string(budget)));
  egc::testing::check_plan_invariants(three_way);
  CHECK(three_way.activation_peak_bytes <= budget);
  CHECK(three_way.host_arena_bytes > 0);
  CHECK(three_way.host_arena_bytes <= context.host_memory_bytes);
  CHECK(three_way.description.find("offload") != std::string::npos);

  CHECK_THROWS_WITH_AS(make_plan(model, context, parse_plan("budget:1KiB")),
                       doctest::Contains("below the smallest feasible activation peak"), UsageError);
  // Enough device memory for offloading, too little host memory for it: the error says how much.
  context.host_memory_bytes = 1;
  CHECK_THROWS_WITH_AS(make_plan(model, context, parse_plan("budget:" + std::to_string(budget))),
                       doctest::Contains("needs --host-memory"), UsageError);
  // Without --host-memory, budget plans are the two-way planner's, byte for byte.
  context.host_memory_bytes = 0;
  const Plan two_way = make_plan(model, context, parse_plan("budget:" + std::to_string(budget)));
  CHECK(two_way.host_arena_bytes == 0);
  CHECK(two_way.description.find("offload") == std::string::npos);
}

TEST_CASE("H200, 64 GEMM-bound equal layers at a fifth of none's activation peak: three-way under 20% and under two-way") {
  const ModelSpec model = equal_model(64, 8192, 1024);
  StepContext context;
  context.profile = std::make_shared<DeviceProfile>(default_h200_profile());
  const Plan none = make_plan(model, context, parse_plan("none"));
  const std::string budget = "budget:" + std::to_string(none.activation_peak_bytes / 5);
  const Plan two_way = make_plan(model, context, parse_plan(budget));
  context.host_memory_bytes = std::size_t{64} << 30;
  const Plan three_way = make_plan(model, context, parse_plan(budget));
  CHECK(three_way.activation_peak_bytes <= none.activation_peak_bytes / 5);
  CHECK(three_way.predicted_step_ms < 1.2 * none.predicted_step_ms);
  CHECK(three_way.predicted_step_ms < two_way.predicted_step_ms);
  MESSAGE("none " << none.predicted_step_ms << " ms, two-way " << two_way.predicted_step_ms << " ms, three-way "
                  << three_way.predicted_step_ms << " ms (" << three_way.predicted_stall_ms << " ms of copies exposed)");
}
