// Kernel launches only a GPU runs: the CUB BlockReduce baseline of the bias gradient, and every
// grid-stride kernel past the first pass of its largest grid (>= 70 M elements). CUDA builds
// only; the other kernel cases run on the simulated device too (test_cuda_kernels.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/bias_backward.h"
#include "kernels/launch_config.h"
#include "kernels/mse_loss.h"
#include "runtime/cpu_math.h"
#include "runtime/cuda_backend.h"
#include "tests/kernel_test_support.h"

namespace egc::test {

TEST_CASE("bias_gradient: the CUB BlockReduce baseline agrees with the tiled kernel") {
  Fixture f;
  for (const auto& [rows, cols] : shapes()) {
    for (const bool accumulate : {false, true}) {
      const ColumnSumCase c = column_sum_case(f.cpu, rows, cols, accumulate);
      DeviceBuffer d_grad(*f.gpu, c.grad), d_cub(*f.gpu, c.initial);
      cuda::bias_backward_cub(d_grad.floats(), d_cub.floats(), rows, cols, accumulate,
                              static_cast<cudaStream_t>(cuda_stream(*f.gpu)));
      const double cub_error = error_relative_to(d_cub.download(), c.expected, c.scale);
      INFO(shape_name(rows, cols) << " accumulate=" << accumulate << " cub error=" << cub_error);
      CHECK(cub_error <= 1.2e-5);  // about 25 eps of a float32 sum (see test_cuda_kernels.cpp)
    }
  }
}

namespace {

// Multiples of 1/128 in [-1, 1) (of 1/2048 in [0, 1/8) for Adam's v, never negative), from the
// top 8 bits of a hash of the index: every product and sum the kernels below form from them, with
// the power-of-two settings used there, is exact in float, so FMA contraction (nvcc) or none (the
// CPU) gives the same bits and every comparison is bitwise. Cheaper than 70 M draws of Random.
std::vector<float> dyadic(std::size_t count, std::uint64_t seed, bool second_moment = false) {
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) {
    const int k = static_cast<int>(derive_seed(seed, i) >> 56);
    values[i] = second_moment ? static_cast<float>(k) / 2048.0f : static_cast<float>(k - 128) / 128.0f;
  }
  return values;
}

}  // namespace

// One pass of the largest grid covers 2^16 blocks x 256 threads x 4 floats = 67,108,864 elements
// on the vector path (a quarter of that on the scalar path); 70 M make threads take a second turn
// of the grid-stride loop, and a misaligned start (offset 1) takes the scalar path. One
// instantiation per kernel (relu: the other activations share the walk); numerics are the cases
// above. Each array has one float more than kLongCount, so that offset 1 fits; both backends leave
// the extra float alone.
constexpr std::size_t kLongRows = 70001, kLongCols = 1001, kLongCount = kLongRows * kLongCols;  // cols % 4 != 0
constexpr std::size_t kOnePass = cuda::kMaxBlocks * cuda::kThreadsPerBlock;
static_assert(kLongCount > 4 * kOnePass, "a second pass on the vector path");

TEST_CASE("past the first pass: bias + relu forward, relu backward, MSE gradient on 70 M elements, bitwise") {
  const std::unique_ptr<Backend> gpu = make_cuda();
  CpuBackend cpu;
  const std::vector<float> x = dyadic(kLongCount + 1, 1), y = dyadic(kLongCount + 1, 2), bias = dyadic(kLongCols, 3);
  for (const std::size_t offset : {0, 1}) {
    INFO("offset=" << offset);
    {
      std::vector<float> out = x, pre(kLongCount + 1, 0.0f), grad = y;
      DeviceBuffer d_out(*gpu, out), d_pre(*gpu, pre), d_bias(*gpu, bias), d_grad(*gpu, grad);
      cpu.bias_activation_forward(out.data() + offset, pre.data() + offset, bias.data(), kLongRows, kLongCols,
                                  Activation::relu, DropoutMask{});
      gpu->bias_activation_forward(d_out.floats(offset), d_pre.floats(offset), d_bias.floats(), kLongRows, kLongCols,
                                   Activation::relu, DropoutMask{});
      CHECK(bitwise_equal(d_out.download(), out));
      CHECK(bitwise_equal(d_pre.download(), pre));
      cpu.activation_backward(grad.data() + offset, out.data() + offset, kLongRows, kLongCols, Activation::relu, false,
                              DropoutMask{});
      gpu->activation_backward(d_grad.floats(offset), d_out.floats(offset), kLongRows, kLongCols, Activation::relu,
                               false, DropoutMask{});
      CHECK(bitwise_equal(d_grad.download(), grad));
    }
    {
      // The MSE gradient alone (the loss value is CUB's reduction, not a loop of ours).
      float loss = 0;
      std::vector<float> grad(kLongCount + 1, 0.0f);
      DeviceBuffer d_pred(*gpu, x), d_target(*gpu, y), d_grad(*gpu, grad);
      cpu.mse_loss(x.data() + offset, y.data() + offset, &loss, grad.data() + offset, kLongRows, kLongCols, 1.0f);
      cuda::mse_loss_backward(d_pred.floats(offset), d_target.floats(offset), d_grad.floats(offset), kLongCount, 1.0f,
                              static_cast<cudaStream_t>(cuda_stream(*gpu)));
      CHECK(bitwise_equal(d_grad.download(), grad));
    }
  }
}

TEST_CASE("past the first pass: SGD with and without momentum, Adam on 70 M parameters, bitwise") {
  const std::unique_ptr<Backend> gpu = make_cuda();
  CpuBackend cpu;
  const std::vector<float> params = dyadic(kLongCount + 1, 4), grads = dyadic(kLongCount + 1, 5);
  const std::vector<float> first = dyadic(kLongCount + 1, 6), second = dyadic(kLongCount + 1, 7, true);
  for (const std::size_t offset : {0, 1}) {
    for (const float momentum : {0.5f, 0.0f}) {
      INFO("offset=" << offset << " sgd momentum=" << momentum);
      const SgdSettings sgd{0.0625f, momentum};
      std::vector<float> p = params, v = first;
      DeviceBuffer dp(*gpu, p), dg(*gpu, grads), dv(*gpu, v);
      cpu.sgd_update(p.data() + offset, grads.data() + offset, momentum > 0 ? v.data() + offset : nullptr, kLongCount,
                     sgd);
      gpu->sgd_update(dp.floats(offset), dg.floats(offset), momentum > 0 ? dv.floats(offset) : nullptr, kLongCount, sgd);
      CHECK(bitwise_equal(dp.download(), p));
      CHECK(bitwise_equal(dv.download(), v));
    }
    INFO("offset=" << offset << " adam");
    const AdamSettings adam{0.0078125f, 0.5f, 0.5f, 9.5367431640625e-07f};  // 2^-7, 1/2, 1/2, 2^-20
    std::vector<float> p = params, m = first, v = second;
    DeviceBuffer dp(*gpu, p), dg(*gpu, grads), dm(*gpu, m), dv(*gpu, v);
    cpu.adam_update(p.data() + offset, grads.data() + offset, m.data() + offset, v.data() + offset, kLongCount, adam, 1);
    gpu->adam_update(dp.floats(offset), dg.floats(offset), dm.floats(offset), dv.floats(offset), kLongCount, adam, 1);
    CHECK(bitwise_equal(dp.download(), p));
    CHECK(bitwise_equal(dm.download(), m));
    CHECK(bitwise_equal(dv.download(), v));
  }
}

TEST_CASE("past the first pass: gather_rows into 70 M elements, the bias gradient's loop over 16.8 M columns") {
  const std::unique_ptr<Backend> gpu = make_cuda();
  CpuBackend cpu;
  constexpr std::size_t kSourceRows = 5003;
  const std::vector<float> source = dyadic(kSourceRows * kLongCols, 8);
  std::vector<std::uint32_t> indices(kLongRows);
  for (std::size_t r = 0; r < kLongRows; ++r) indices[r] = static_cast<std::uint32_t>(derive_seed(9, r) % kSourceRows);
  std::vector<float> expected(kLongCount);
  cpu.gather_rows(source.data(), indices.data(), expected.data(), kLongRows, kLongCols);
  DeviceBuffer d_source(*gpu, source), d_indices(*gpu, indices), d_out(*gpu, kLongCount * sizeof(float));
  gpu->gather_rows(d_source.floats(), static_cast<const std::uint32_t*>(d_indices.get()), d_out.floats(), kLongRows,
                   kLongCols);
  CHECK(bitwise_equal(d_out.download(), expected));

  // The second stage loops over the columns. Two rows: each column sum is one exact addition.
  constexpr std::size_t kRows = 2, kCols = kOnePass + 1001;
  const std::vector<float> grad = dyadic(kRows * kCols, 10);
  std::vector<float> sums(kCols);
  cpu.bias_gradient(grad.data(), sums.data(), kRows, kCols, false);
  DeviceBuffer d_grad(*gpu, grad), d_sums(*gpu, kCols * sizeof(float)),
      scratch(*gpu, cuda::bias_backward_scratch_bytes(kRows, kCols));
  cuda::bias_backward(d_grad.floats(), d_sums.floats(), kRows, kCols, false, scratch.get(), scratch.bytes(),
                      static_cast<cudaStream_t>(cuda_stream(*gpu)));
  CHECK(bitwise_equal(d_sums.download(), sums));
}

}  // namespace egc::test

namespace egc::test {

TEST_CASE("past the first pass: the residual epilogue and relu with dropout on 70 M elements, bitwise") {
  const std::unique_ptr<Backend> gpu = make_cuda();
  CpuBackend cpu;
  const std::vector<float> x = dyadic(kLongCount + 1, 11), y = dyadic(kLongCount + 1, 12), bias = dyadic(kLongCols, 13);
  // p = 1/2: kept values doubled, exactly; dyadic sums of three are exact too.
  const DropoutMask mask = math::dropout_mask(0.5, 77, 3, 0, 1);
  for (const std::size_t offset : {0, 1}) {
    INFO("offset=" << offset);
    std::vector<float> out = y, pre(kLongCount + 1, 0.0f), grad = x, sum = y;
    DeviceBuffer d_out(*gpu, out), d_pre(*gpu, pre), d_grad(*gpu, grad), d_bias(*gpu, bias), d_sum(*gpu, sum),
        d_x(*gpu, x);
    cpu.bias_activation_forward(out.data() + offset, pre.data() + offset, bias.data(), kLongRows, kLongCols,
                                Activation::relu, mask);
    gpu->bias_activation_forward(d_out.floats(offset), d_pre.floats(offset), d_bias.floats(), kLongRows, kLongCols,
                                 Activation::relu, mask);
    CHECK(bitwise_equal(d_out.download(), out));
    cpu.activation_backward(grad.data() + offset, pre.data() + offset, kLongRows, kLongCols, Activation::relu, true,
                            mask);
    gpu->activation_backward(d_grad.floats(offset), d_pre.floats(offset), kLongRows, kLongCols, Activation::relu, true,
                             mask);
    CHECK(bitwise_equal(d_grad.download(), grad));
    cpu.bias_residual_forward(sum.data() + offset, bias.data(), x.data() + offset, kLongRows, kLongCols);
    gpu->bias_residual_forward(d_sum.floats(offset), d_bias.floats(), d_x.floats(offset), kLongRows, kLongCols);
    CHECK(bitwise_equal(d_sum.download(), sum));
  }
}

TEST_CASE("past the first pass: LayerNorm's output and the cross-entropy gradient on 70 M elements") {
  const std::unique_ptr<Backend> gpu = make_cuda();
  CpuBackend cpu;
  const std::vector<float> x = dyadic(kLongCount, 14), gamma = dyadic(kLongCols, 15), beta = dyadic(kLongCols, 16);
  std::vector<float> out(kLongCount), stats(2 * kLongRows);
  cpu.layernorm_forward(x.data(), out.data(), stats.data(), gamma.data(), beta.data(), kLongRows, kLongCols, true);
  DeviceBuffer d_x(*gpu, x), d_out(*gpu, kLongCount * sizeof(float)), d_stats(*gpu, 2 * kLongRows * sizeof(float)),
      d_gamma(*gpu, gamma), d_beta(*gpu, beta);
  gpu->layernorm_forward(d_x.floats(), d_out.floats(), d_stats.floats(), d_gamma.floats(), d_beta.floats(), kLongRows,
                         kLongCols, true);
  // Every element written (a NaN or a stale value would be O(1)): an FMA or two apart, as in
  // test_cuda_kernels.cpp (1e-6 of |x-hat gamma| + |beta|, which is O(1) here).
  CHECK(relative_error(d_out.download(), out) <= 1e-6);
  // 70001 rows of 1001 logits, classes of a hash: the gradient kernel's second pass.
  std::vector<float> targets(kLongRows);
  for (std::size_t r = 0; r < kLongRows; ++r) targets[r] = static_cast<float>(derive_seed(17, r) % kLongCols);
  std::vector<float> loss(2), grad(kLongCount);
  cpu.cross_entropy_loss(x.data(), targets.data(), loss.data(), grad.data(), kLongRows, kLongCols, 1.0f);
  ModelSpec spec;
  spec.batch = kLongRows;
  spec.loss = LossKind::cross_entropy;
  spec.out_features = kLongCols;
  spec.hidden_widths = {1};
  DeviceBuffer workspace(*gpu, gpu->workspace_bytes(build_chain(spec)));
  gpu->bind_workspace(workspace.get(), workspace.bytes());
  DeviceBuffer d_targets(*gpu, targets), d_loss(*gpu, 2 * sizeof(float)), d_grad(*gpu, kLongCount * sizeof(float));
  gpu->cross_entropy_loss(d_x.floats(), d_targets.floats(), d_loss.floats(), d_grad.floats(), kLongRows, kLongCols, 1.0f);
  CHECK(relative_error(d_grad.download(), grad) <= 2e-6);  // expf within 2 ulp (test_cuda_kernels.cpp)
  CHECK(std::abs(d_loss.download()[0] - loss[0]) <= 1e-6 * std::abs(loss[0]));
  gpu->bind_workspace(nullptr, 0);
}

}  // namespace egc::test
