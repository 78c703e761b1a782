// Predicted step times: a device profile's JSON, its GEMM interpolation, the kernels of each op,
// and a plan's predicted time as the sum of its kernels.
#include <doctest/doctest.h>

#include <cmath>

#include "planner/device_profile.h"
#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/op_kernels.h"
#include "planner/step_time.h"
#include "tests/plan_checks.h"

using namespace egc;
using egc::testing::equal_model;

namespace {

// A profile whose GEMMs take 1 us plus 1 us per 1000 multiply-adds, on a grid of 1, 10, 100.
DeviceProfile linear_profile() {
  DeviceProfile profile;
  profile.name = "test";
  profile.source = "tests/test_step_time.cpp";
  profile.gemm_fixed_us = 1;
  for (const auto& [ta, tb] : {std::pair{false, true}, std::pair{true, false}, std::pair{false, false}})
    for (std::size_t m : {1, 10, 100})
      for (std::size_t n : {1, 10, 100})
        for (std::size_t k : {1, 10, 100})
          profile.gemm.push_back({{ta, tb, m, n, k}, 1.0 + static_cast<double>(m * n * k) / 1000.0});
  for (const char* key : {"bias_activation:relu", "bias_activation:identity", "activation_backward:relu", "bias_gradient",
                          "mse_loss", "sgd_update:momentum", "gather_rows", "copy_to_device", "copy_to_host"})
    profile.kernels[key].samples = {{1, 2.0005}, {1001, 2.5005}};  // 2 us + 0.5 ns per unit
  return profile;
}

KernelCall gemm(std::size_t m, std::size_t n, std::size_t k) {
  KernelCall call;
  call.gemm = {false, true, m, n, k};
  return call;
}

}  // namespace

TEST_CASE("device profile: JSON round trip, and incomplete or malformed profiles refused naming the file") {
  const DeviceProfile profile = linear_profile();
  const DeviceProfile back = profile_from_json(profile_to_json(profile), "test.json");
  CHECK(profile_to_json(back) == profile_to_json(profile));
  nlohmann::json json = profile_to_json(profile);
  json["gemm"].erase(json["gemm"].begin() + 5);  // a hole in the (N,T) grid
  CHECK_THROWS_WITH(profile_from_json(json, "p.json"), "p.json: the gemm (N,T) samples do not form a complete grid");
  json = profile_to_json(profile);
  json["kernels"]["mse_loss"]["samples"][1][1] = -1;
  CHECK_THROWS_WITH(profile_from_json(json, "p.json"), "p.json: kernel mse_loss has a negative sample");
  json = profile_to_json(profile);
  json["kernels"]["mse_loss"]["samples"][1][0] = 0.5;
  CHECK_THROWS_WITH(profile_from_json(json, "p.json"), "p.json: kernel mse_loss's samples are not in increasing units");
  CHECK_THROWS_AS(profile_from_json(nlohmann::json::object(), "p.json"), UsageError);
  CHECK(default_cpu_profile().name == "cpu reference backend");
  CHECK(default_h200_profile().source.find("not calibrated") != std::string::npos);
}

TEST_CASE("kernel timer: exact on the grid, a power law between grid points, the FLOP rate beyond it") {
  const KernelTimer timer(linear_profile(), "test");
  CHECK(timer.ms(gemm(10, 100, 10)) == doctest::Approx(0.011));  // 1 us + 10 us
  CHECK(timer.ms(gemm(100, 100, 100)) == doctest::Approx(1.001));
  // Between 10 and 100 in every dimension: log-linear, so between the two grid times.
  const double mid = timer.ms(gemm(31, 31, 31));
  CHECK(mid > timer.ms(gemm(10, 10, 10)));
  CHECK(mid < timer.ms(gemm(100, 100, 100)));
  // Beyond the grid: the edge's time scaled by the FLOPs.
  CHECK(timer.ms(gemm(400, 100, 100)) == doctest::Approx(4 * 1.001));
  CHECK(timer.ms(gemm(0, 5, 5)) == 0);               // no call
  CHECK(timer.ms(gemm(5, 5, 0)) == doctest::Approx(0.001));  // C = beta C: the fixed cost
  KernelCall relu;
  relu.kind = KernelKind::bias_activation;
  relu.variant = "relu";
  relu.units = 1000;
  CHECK(relu.cost_key() == "bias_activation:relu");
  CHECK(timer.ms(relu) == doctest::Approx((2.0 + 1000 * 0.5 / 1000) / 1000));
  relu.units = 3001;  // beyond the last sample: the last segment's rate
  CHECK(timer.ms(relu) == doctest::Approx((2.0 + 3001 * 0.5 / 1000) / 1000));
  relu.units = 0;  // below the first: the first's time
  CHECK(timer.ms(relu) == doctest::Approx(2.0005 / 1000));
  relu.variant = "gelu";
  CHECK_THROWS_WITH(timer.ms(relu), "profile 'test': no cost for kernel bias_activation:gelu; recalibrate");
}

TEST_CASE("op kernels: what the executor calls per op, in order") {
  StepContext context;
  context.dataset_rows = 100;
  const Plan plan = make_plan(equal_model(2, 8, 4), context, parse_plan("none"));  // 1 -> 8 -> 8 -> 1
  // forward(0), forward(1), forward(2), loss, backward(2), update(2), backward(1), ...
  const std::vector<KernelCall> forward = op_kernels(plan, 1, 4);
  REQUIRE(forward.size() == 2);
  CHECK(forward[0].kind == KernelKind::gemm);
  CHECK((forward[0].gemm == GemmShape{false, true, 4, 8, 8}));
  CHECK(forward[1].cost_key() == "bias_activation:relu");
  CHECK(forward[1].units == 32);
  const std::vector<KernelCall> backward = op_kernels(plan, 4, 4);  // the output layer: no activation
  REQUIRE(backward.size() == 3);
  CHECK((backward[0].gemm == GemmShape{true, false, 1, 8, 4}));
  CHECK(backward[1].cost_key() == "bias_gradient");
  CHECK((backward[2].gemm == GemmShape{false, false, 4, 8, 1}));
  CHECK(op_kernels(plan, 5, 4)[0].cost_key() == "sgd_update:momentum");
  CHECK(op_kernels(plan, 5, 4)[0].units == 9);  // layer 2's weight and bias
  CHECK(op_kernels(plan, 3, 4)[0].cost_key() == "mse_loss");
}

TEST_CASE("the predicted step is the sum of its ops and batch loads, accumulation repeats all but the final update") {
  StepContext context;
  context.dataset_rows = 100;
  context.profile = std::make_shared<const DeviceProfile>(linear_profile());
  const ModelSpec model = equal_model(3, 10, 10);
  const Plan plan = make_plan(model, context, parse_plan("sqrtn"));
  const KernelTimer timer(linear_profile(), "test");
  double ops = 0;
  for (const Op& op : plan.ops) ops += op.predicted_ms;
  double loads = 0;
  for (const KernelCall& call : batch_load_kernels(plan, 10)) loads += timer.ms(call);
  for (const KernelCall& call : loss_readback_kernels(plan)) loads += timer.ms(call);
  CHECK(plan.predicted_step_ms == doctest::Approx(ops + loads));
  CHECK(plan.profile_name == "test");
  // --accumulate 3: one update of all parameters after three micro-batches.
  context.single_update = true;
  context.micro_batches = 3;
  const Plan accumulated = make_plan(model, context, parse_plan("sqrtn"));
  double update = 0, rest = 0;
  for (const Op& op : accumulated.ops) (op.kind == OpKind::update ? update : rest) += op.predicted_ms;
  CHECK(accumulated.predicted_step_ms == doctest::Approx(3 * (rest + loads) + update));
  // Recomputation costs time: sqrtn predicts more than none.
  context = StepContext{};
  context.profile = std::make_shared<const DeviceProfile>(linear_profile());
  CHECK(make_plan(model, context, parse_plan("sqrtn")).predicted_step_ms >
        make_plan(model, context, parse_plan("none")).predicted_step_ms);
}
