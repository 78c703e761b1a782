// Whole training steps on the GPU: against the CPU reference (same initial parameters, same
// data, same batches), bitwise reproducible across checkpoint plans and allocation modes, and
// the forward-only evaluation path (batches smaller than the plan's).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "runtime/cpu_backend.h"
#include "runtime/dataset.h"
#include "runtime/trainer.h"
#include "tests/cuda_test_support.h"

namespace egc::test {
namespace {

Dataset make_data(const ModelSpec& spec, std::size_t samples, std::uint64_t seed) {
  Dataset data = make_synthetic_for(spec, samples, 0.1, seed);
  split_dataset(data, 0.2, seed);
  return data;
}

std::vector<float> minus(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> difference(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) difference[i] = a[i] - b[i];
  return difference;
}

}  // namespace

TEST_CASE("a training step on the GPU matches the CPU reference (float32)") {
  const std::unique_ptr<Backend> gpu = make_device_under_test();
  CpuBackend cpu;
  for (const Activation activation : {Activation::relu, Activation::gelu, Activation::tanh}) {
    for (const Optimizer optimizer : {Optimizer::sgd, Optimizer::adam}) {
      ModelSpec spec;
      spec.in_features = 3;
      spec.out_features = 2;
      spec.hidden_widths = {64, 31, 7};
      spec.batch = 100;
      spec.activation = activation;
      spec.optimizer = optimizer;
      const Dataset data = make_data(spec, 1000, 42);
      const Plan cpu_plan = plan_for(spec, data, cpu, "sqrtn", /*single_update=*/true);
      const Plan gpu_plan = plan_for(spec, data, *gpu, "sqrtn", /*single_update=*/true);
      TrainSettings settings;
      settings.seed = 7;
      Trainer on_cpu(cpu_plan, cpu, data, settings);
      Trainer on_gpu(gpu_plan, *gpu, data, settings);
      on_cpu.initialize_parameters();
      on_gpu.initialize_parameters();
      const std::vector<float> initial = on_cpu.parameters();
      REQUIRE(bitwise_equal(on_gpu.parameters(), initial));

      const float cpu_loss = on_cpu.train_step();
      const float gpu_loss = on_gpu.train_step();
      const double loss_error = std::abs(static_cast<double>(gpu_loss) - cpu_loss) / std::abs(cpu_loss);
      const double grad_error = relative_error(on_gpu.gradients(), on_cpu.gradients());
      const std::vector<float> cpu_params = on_cpu.parameters(), gpu_params = on_gpu.parameters();
      const double param_error_1 = relative_error(gpu_params, cpu_params);
      const double update_error_1 = relative_error(minus(gpu_params, initial), minus(cpu_params, initial));
      for (int step = 1; step < 5; ++step) {
        on_cpu.train_step();
        on_gpu.train_step();
      }
      const double param_error_5 = relative_error(on_gpu.parameters(), on_cpu.parameters());
      const std::string name = std::string(to_string(activation)) + " + " + to_string(optimizer);
      MESSAGE(name << ": relative error GPU vs CPU: loss " << loss_error << ", gradients " << grad_error
                   << ", parameters after 1 step " << param_error_1 << " (update " << update_error_1
                   << "), after 5 steps " << param_error_5);
      // The GEMMs differ in summation order (relative ~1e-6 each, see test_cuda_kernels), and
      // the error compounds through 4 layers forward and back: 1e-4 on loss and gradients.
      CHECK(loss_error <= 1e-5);
      CHECK(grad_error <= 1e-4);
      // SGD moves each parameter by lr x gradient: the parameters carry the gradients' error
      // scaled down by the size of the updates (a few % of the parameters here), so the
      // gradients' bound holds for them too. Adam's first step moves every parameter by
      // lr x sign(gradient): a gradient within rounding of zero may flip sign between backends,
      // a full 2 lr (of ~6 in ||p||) on that parameter, hence the looser bound for Adam.
      const double bound = optimizer == Optimizer::sgd ? 1e-4 : 1e-3;
      CHECK(param_error_1 <= bound);
      CHECK(param_error_5 <= bound);
    }
  }
}

TEST_CASE("residual blocks with LayerNorm, dropout and cross-entropy: GPU against the CPU, and bitwise across plans") {
  const std::unique_ptr<Backend> gpu = make_device_under_test();
  CpuBackend cpu;
  for (const Norm norm : {Norm::layernorm, Norm::none}) {
    ModelSpec spec;
    spec.block = BlockKind::residual;
    spec.norm = norm;
    spec.hidden_widths.assign(6, 48);
    spec.expand = 3;
    spec.in_features = 5;
    spec.loss = LossKind::cross_entropy;
    spec.out_features = 7;
    spec.batch = 65;
    spec.dropout = 0.1;
    spec.activation = Activation::gelu;
    spec.optimizer = Optimizer::adam;
    const Dataset data = make_data(spec, 800, 9);
    TrainSettings settings;
    settings.seed = 5;
    const Plan cpu_plan = plan_for(spec, data, cpu, "sqrtn", true);  // trainers keep a reference to their plan
    const Plan gpu_plan = plan_for(spec, data, *gpu, "sqrtn", true);
    Trainer on_cpu(cpu_plan, cpu, data, settings);
    Trainer on_gpu(gpu_plan, *gpu, data, settings);
    on_cpu.initialize_parameters();
    on_gpu.initialize_parameters();
    const float cpu_loss = on_cpu.train_step(), gpu_loss = on_gpu.train_step();
    const double loss_error = std::abs(static_cast<double>(gpu_loss) - cpu_loss) / std::abs(cpu_loss);
    const double grad_error = relative_error(on_gpu.gradients(), on_cpu.gradients());
    MESSAGE(std::string(to_string(norm)) << ": relative error GPU vs CPU: loss " << loss_error << ", gradients " << grad_error
                            << "; accuracy " << *on_gpu.last_accuracy() << " vs " << *on_cpu.last_accuracy());
    // As for plain chains (above): GEMM summation orders, compounded through 8 units; the masks are
    // the same bits on both (Philox, test_cuda_seams_blocks), so dropout adds no error. LayerNorm's
    // and the loss's sums differ in order only (float64 on both sides, or float sums of <= 65 terms).
    CHECK(loss_error <= 1e-5);
    CHECK(grad_error <= 1e-4);
    // Logits 1e-6 apart: the same argmax but for a near-tie, which may flip one row of 65.
    CHECK(std::abs(*on_gpu.last_accuracy() - *on_cpu.last_accuracy()) <= 1.0f / 65 + 1e-6f);
    // Every plan on the GPU computes the same step, bit for bit.
    std::vector<float> reference;
    for (const char* plan_name : {"none", "every:2", "sqrtn"}) {
      const Plan plan = plan_for(spec, data, *gpu, plan_name);
      Trainer trainer(plan, *gpu, data, settings);
      trainer.initialize_parameters();
      for (int step = 0; step < 3; ++step) trainer.train_step();
      INFO(std::string(to_string(norm)) << " " << std::string(plan_name));
      if (reference.empty())
        reference = trainer.parameters();
      else
        CHECK(bitwise_equal(trainer.parameters(), reference));
    }
  }
}

TEST_CASE("parameters are bitwise identical across plans and allocation modes on the GPU") {
  const std::unique_ptr<Backend> gpu = make_device_under_test();
  for (const Activation activation : {Activation::relu, Activation::gelu, Activation::tanh}) {
    for (const Optimizer optimizer : {Optimizer::sgd, Optimizer::adam}) {
      for (const std::size_t accumulate : {std::size_t{1}, std::size_t{2}}) {
        ModelSpec spec;
        spec.in_features = 5;
        spec.out_features = 3;
        spec.hidden_widths = std::vector<std::size_t>(9, 48);
        spec.batch = 33;
        spec.activation = activation;
        spec.optimizer = optimizer;
        const Dataset data = make_data(spec, 500, 3);
        TrainSettings settings;
        settings.seed = 11;
        settings.accumulate = accumulate;
        std::vector<float> reference;
        for (const auto& [plan_name, alloc] : {std::pair{"none", AllocMode::arena}, std::pair{"sqrtn", AllocMode::arena},
                                               std::pair{"every:3", AllocMode::arena},
                                               std::pair{"sqrtn", AllocMode::per_buffer},
                                               std::pair{"none+derive", AllocMode::arena},
                                               std::pair{"sqrtn+derive", AllocMode::per_buffer}}) {
          const Plan plan = plan_for(spec, data, *gpu, plan_name, /*single_update=*/accumulate > 1);
          settings.alloc = alloc;
          Trainer trainer(plan, *gpu, data, settings);
          trainer.initialize_parameters();
          for (int step = 0; step < 4; ++step) trainer.train_step();
          const std::vector<float> params = trainer.parameters();
          INFO(to_string(activation) << " " << to_string(optimizer) << " accumulate " << accumulate << " plan "
                                     << plan_name << " " << to_string(alloc));
          if (reference.empty())
            reference = params;
          else
            CHECK(bitwise_equal(params, reference));
        }
      }
    }
  }
}

TEST_CASE("evaluation on the GPU matches the CPU, batches smaller than the plan's included") {
  const std::unique_ptr<Backend> gpu = make_device_under_test();
  CpuBackend cpu;
  ModelSpec spec;
  spec.in_features = 4;
  spec.out_features = 3;
  spec.hidden_widths = {40, 40, 40};
  spec.batch = 64;
  spec.activation = Activation::gelu;
  const Dataset data = make_data(spec, 1001, 5);  // 200 evaluation rows: three full batches and 8
  const Plan cpu_plan = plan_for(spec, data, cpu, "none");
  const Plan gpu_plan = plan_for(spec, data, *gpu, "none");
  for (const AllocMode alloc : {AllocMode::arena, AllocMode::per_buffer}) {
    TrainSettings settings;
    settings.alloc = alloc;
    Trainer on_cpu(cpu_plan, cpu, data, settings);
    Trainer on_gpu(gpu_plan, *gpu, data, settings);
    on_cpu.initialize_parameters();
    on_gpu.initialize_parameters();
    const std::optional<Evaluation> expected = on_cpu.evaluate(true);
    const std::optional<Evaluation> got = on_gpu.evaluate(true);
    REQUIRE(expected.has_value());
    REQUIRE(got.has_value());
    INFO(to_string(alloc) << ": mse " << got->loss << " vs " << expected->loss);
    CHECK(std::abs(got->loss - expected->loss) <= 1e-5 * expected->loss);  // forward only: GEMM rounding
    CHECK(relative_error(got->predictions, expected->predictions) <= 1e-5);
  }
}

}  // namespace egc::test
