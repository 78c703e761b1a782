// Each CUDA op against the CPU reference on fresh random inputs of awkward sizes (1, 7, 31,
// 1000, 4097 rows and columns). Tolerances are normwise relative errors ||gpu - ref|| / ||ref||,
// each stated beside its check with the reason for its size; exact where both backends do the
// same IEEE operations in the same order. The last case runs every grid-stride kernel past the
// first pass of its largest grid.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "planner/chain.h"
#include "runtime/cpu_backend.h"
#include "runtime/cpu_math.h"
#include "tests/kernel_test_support.h"

namespace egc::test {

TEST_CASE("gemm: cuBLAS float32 against a float64 reference, every transpose case, beta 0 and 1") {
  Fixture f;
  struct Shape {
    std::size_t m, n, k;
  };
  const Shape shapes_mnk[] = {{1, 1, 1}, {7, 31, 1000}, {1000, 7, 4097}, {4097, 31, 7}, {31, 4097, 1000},
                              {1, 4097, 31}, {4097, 1, 1000}};
  for (const Shape& s : shapes_mnk) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {  // the executor uses (F,T) forward, (T,F) dW, (F,F) dX
        for (const float beta : {0.0f, 1.0f}) {
          const std::vector<float> a = random_floats(s.m * s.k, seed_of(s.m, s.k, 1));
          const std::vector<float> b = random_floats(s.k * s.n, seed_of(s.k, s.n, 2));
          const std::vector<float> c0 = random_floats(s.m * s.n, seed_of(s.m, s.n, 3));
          std::vector<double> a64(a.begin(), a.end()), b64(b.begin(), b.end()), c64(c0.begin(), c0.end());
          std::vector<double> scratch(s.k * s.n);
          cpu::gemm<double>(ta, tb, s.m, s.n, s.k, a64.data(), b64.data(), beta, c64.data(), scratch.data());
          // The magnitude scale |op(A)| |op(B)| + |beta C0|, in float64.
          std::vector<double> abs_a(a.size()), abs_b(b.size()), scale(c0.size());
          for (std::size_t i = 0; i < a.size(); ++i) abs_a[i] = std::abs(a[i]);
          for (std::size_t i = 0; i < b.size(); ++i) abs_b[i] = std::abs(b[i]);
          for (std::size_t i = 0; i < c0.size(); ++i) scale[i] = std::abs(beta * c0[i]);
          cpu::gemm<double>(ta, tb, s.m, s.n, s.k, abs_a.data(), abs_b.data(), 1.0, scale.data(), scratch.data());

          DeviceBuffer da(*f.gpu, a), db(*f.gpu, b), dc(*f.gpu, c0);
          f.gpu->gemm(ta, tb, s.m, s.n, s.k, da.floats(), db.floats(), beta, dc.floats());
          const double error = error_relative_to(dc.download(), c64, scale);
          // Against |A| |B|, a float32 sum of k products is off by at most k eps and in practice
          // by about eps (random signs); 2 sqrt(k) eps (at least 5e-7) holds with a wide margin
          // yet catches TF32 (inputs rounded to 10 bits, ~2^-11 / sqrt(k) here) for k <= 1000.
          const double tolerance = std::max(5e-7, 2.0 * std::sqrt(static_cast<double>(s.k)) * kFloatEpsilon);
          INFO("m=" << s.m << " n=" << s.n << " k=" << s.k << " ta=" << ta << " tb=" << tb << " beta=" << beta
                    << " error=" << error << " tolerance=" << tolerance);
          CHECK(error <= tolerance);
        }
      }
    }
  }
}

TEST_CASE("bias_activation_forward: every activation, with and without the pre-activation") {
  Fixture f;
  for (const auto& [rows, cols] : shapes()) {
    const std::vector<float> x = random_floats(rows * cols, seed_of(rows, cols), -3.0, 3.0);
    const std::vector<float> bias = random_floats(cols, seed_of(cols, 7));
    std::vector<float> z(x.size());  // the pre-activation, the scale of the activation's error
    for (std::size_t e = 0; e < z.size(); ++e) z[e] = x[e] + bias[e % cols];
    for (const Activation activation : kActivations) {
      for (const bool with_pre : {true, false}) {
        std::vector<float> out = x, pre(x.size());
        f.cpu.bias_activation_forward(out.data(), with_pre ? pre.data() : nullptr, bias.data(), rows, cols, activation,
                                      DropoutMask{});
        DeviceBuffer d_out(*f.gpu, x), d_pre(*f.gpu, x.size() * sizeof(float)), d_bias(*f.gpu, bias);
        f.gpu->bias_activation_forward(d_out.floats(), with_pre ? d_pre.floats() : nullptr, d_bias.floats(), rows, cols,
                                       activation, DropoutMask{});
        const std::vector<float> gpu_out = d_out.download();
        const double error = error_relative_to(gpu_out, out, z);
        INFO(shape_name(rows, cols) << " " << to_string(activation) << " pre=" << with_pre << " error=" << error);
        // The bias add is one IEEE addition on both: exact. identity and relu add nothing
        // inexact; tanh (CUDA's tanhf: 2 ulp, glibc's: 1 ulp) and GELU (tanh of a polynomial
        // that nvcc may contract into FMAs) differ by a few ulp of |z| (GELU's 1 + tanh cancels
        // for negative z, hence the scale z rather than the result): 1e-6 is about 8 ulp.
        if (with_pre) CHECK(bitwise_equal(d_pre.download(), pre));
        if (activation == Activation::identity || activation == Activation::relu)
          CHECK(bitwise_equal(gpu_out, out));
        else
          CHECK(error <= 1e-6);
      }
    }
  }
}

TEST_CASE("activation_backward: every activation") {
  Fixture f;
  for (const auto& [rows, cols] : shapes()) {
    const std::vector<float> grad = random_floats(rows * cols, seed_of(rows, cols, 4));
    for (const Activation activation : kActivations) {
      // What the backward pass keeps: relu's output (>= 0, zeros included), tanh's output in
      // (-1, 1), GELU's pre-activation.
      std::vector<float> saved = activation == Activation::gelu
                                     ? random_floats(rows * cols, seed_of(rows, cols, 5), -4.0, 4.0)
                                     : random_floats(rows * cols, seed_of(rows, cols, 5), -0.999, 0.999);
      if (activation == Activation::relu)
        for (float& value : saved) value = std::max(value, 0.0f);
      std::vector<float> expected = grad;
      f.cpu.activation_backward(expected.data(), saved.data(), rows, cols, activation, false, DropoutMask{});
      DeviceBuffer d_grad(*f.gpu, grad), d_saved(*f.gpu, saved);
      f.gpu->activation_backward(d_grad.floats(), d_saved.floats(), rows, cols, activation, false, DropoutMask{});
      const std::vector<float> got = d_grad.download();
      const double error = error_relative_to(got, expected, grad);
      INFO(shape_name(rows, cols) << " " << to_string(activation) << " error=" << error);
      // identity and relu multiply by exactly 1 or 0: exact. Otherwise the error is the
      // derivative's, times |grad| (the scale): tanh's 1 - s^2 (an FMA on the GPU, not on the
      // CPU) is off by an ulp of s^2, ~1e-7. GELU's derivative adds x (1 - t^2) k (1 + 3c x^2)
      // with t = tanh(...) within 2 ulp on each side: for |x| up to 4 that term multiplies t's
      // error by up to ~10, ~2.5e-6 in the worst element.
      if (activation == Activation::identity || activation == Activation::relu)
        CHECK(bitwise_equal(got, expected));
      else
        CHECK(error <= (activation == Activation::tanh ? 1e-6 : 4e-6));
    }
  }
}

TEST_CASE("bias_gradient: column sums, accumulate on and off, deterministic") {
  Fixture f;
  for (const auto& [rows, cols] : shapes()) {
    for (const bool accumulate : {false, true}) {
      const ColumnSumCase c = column_sum_case(f.cpu, rows, cols, accumulate);
      DeviceBuffer d_grad(*f.gpu, c.grad), d_bias(*f.gpu, c.initial);
      f.gpu->bias_gradient(d_grad.floats(), d_bias.floats(), rows, cols, accumulate);
      const std::vector<float> got = d_bias.download();
      const double error = error_relative_to(got, c.expected, c.scale);
      INFO(shape_name(rows, cols) << " accumulate=" << accumulate << " error=" << error);
      // The classic bound of a float32 sum: (additions in sequence) x eps x (sum of |terms|).
      // The tiled kernel adds at most 9 rows per lane, 8 lanes, 64 chunks and the accumulated
      // value in sequence: 82 eps = 9.8e-6; the CPU rounds once.
      CHECK(error <= 1.2e-5);
      // The same inputs give the same bits: no atomics, a fixed summation order.
      f.gpu->copy_to_device(d_bias.get(), c.initial.data(), c.initial.size() * sizeof(float));
      f.gpu->bias_gradient(d_grad.floats(), d_bias.floats(), rows, cols, accumulate);
      CHECK(bitwise_equal(d_bias.download(), got));
    }
  }
}

TEST_CASE("mse_loss: the loss value (CUB reduction) and its gradient") {
  Fixture f;
  for (const auto& [rows, cols] : shapes()) {
    const std::vector<float> pred = random_floats(rows * cols, seed_of(rows, cols, 9));
    const std::vector<float> target = random_floats(rows * cols, seed_of(rows, cols, 10));
    for (const float scale : {1.0f, 0.5f}) {
      float expected_loss = 0;
      std::vector<float> expected_grad(pred.size());
      f.cpu.mse_loss(pred.data(), target.data(), &expected_loss, expected_grad.data(), rows, cols, scale);
      DeviceBuffer d_pred(*f.gpu, pred), d_target(*f.gpu, target), d_loss(*f.gpu, sizeof(float)),
          d_grad(*f.gpu, pred.size() * sizeof(float));
      f.gpu->mse_loss(d_pred.floats(), d_target.floats(), d_loss.floats(), d_grad.floats(), rows, cols, scale);
      const float loss = d_loss.download()[0];
      const std::vector<float> grad = d_grad.download();
      INFO(shape_name(rows, cols) << " scale=" << scale << " loss " << loss << " vs " << expected_loss
                                  << " grad error=" << relative_error(grad, expected_grad)
                                  << " grad bitwise=" << bitwise_equal(grad, expected_grad));
      // Both sum the squares in float64 and round once: at most an ulp apart (1.2e-7).
      CHECK(std::abs(loss - expected_loss) <= 2e-7 * std::abs(expected_loss));
      // The same float operations in the same order (a product, a product, a division): one
      // rounding apart at most, normally identical.
      CHECK(relative_error(grad, expected_grad) <= 2e-7);
    }
  }
}

TEST_CASE("sgd_update and adam_update: fused over the packed parameters, aligned and unaligned") {
  Fixture f;
  for (const std::size_t count : {std::size_t{1}, std::size_t{7}, std::size_t{31}, std::size_t{1000},
                                  std::size_t{4097}, std::size_t{1000003}}) {
    for (const std::size_t offset : {std::size_t{0}, std::size_t{1}}) {  // 1: not 16-byte aligned, scalar path
      const std::size_t n = offset + count;
      const std::vector<float> params = random_floats(n, seed_of(count, 11));
      const std::vector<float> grads = random_floats(n, seed_of(count, 12));
      const std::vector<float> state = random_floats(n, seed_of(count, 13));
      const std::vector<float> second = random_floats(n, seed_of(count, 14), 0.0, 0.01);  // Adam's v >= 0
      const std::string where = "count=" + std::to_string(count) + " offset=" + std::to_string(offset);
      // Per element a handful of roundings; nvcc contracts a*b+c into FMAs, the CPU does not:
      // the results differ in the last bit or two of the terms. 1e-6 is ~8 ulp of the scale.
      for (const float momentum : {0.9f, 0.0f}) {
        const SgdSettings sgd{0.01f, momentum};
        std::vector<float> p = params, v = state;
        f.cpu.sgd_update(p.data() + offset, grads.data() + offset, momentum > 0 ? v.data() + offset : nullptr, count, sgd);
        DeviceBuffer dp(*f.gpu, params), dg(*f.gpu, grads), dv(*f.gpu, state);
        f.gpu->sgd_update(dp.floats(offset), dg.floats(offset), momentum > 0 ? dv.floats(offset) : nullptr, count, sgd);
        INFO(where << " sgd momentum=" << momentum);
        // Scales: |p| + |p'| for the parameters, |momentum v| + |g| for the velocity.
        CHECK(error_relative_to(dp.download(), p, magnitudes(params, 1.0, p, 1.0)) <= 1e-6);
        if (momentum > 0) CHECK(error_relative_to(dv.download(), v, magnitudes(state, momentum, grads, 1.0)) <= 1e-6);
      }
      for (const std::size_t step : {std::size_t{1}, std::size_t{10}}) {
        const AdamSettings adam{};
        std::vector<float> p = params, m = state, v = second;
        f.cpu.adam_update(p.data() + offset, grads.data() + offset, m.data() + offset, v.data() + offset, count, adam, step);
        DeviceBuffer dp(*f.gpu, params), dg(*f.gpu, grads), dm(*f.gpu, state), dv(*f.gpu, second);
        f.gpu->adam_update(dp.floats(offset), dg.floats(offset), dm.floats(offset), dv.floats(offset), count, adam, step);
        INFO(where << " adam step=" << step);
        // Scales: |p| + |p'|, |beta1 m| + |(1 - beta1) g|; v sums non-negative terms: itself.
        CHECK(error_relative_to(dp.download(), p, magnitudes(params, 1.0, p, 1.0)) <= 1e-6);
        CHECK(error_relative_to(dm.download(), m, magnitudes(state, adam.beta1, grads, 1.0 - adam.beta1)) <= 1e-6);
        CHECK(relative_error(dv.download(), v) <= 1e-6);
      }
    }
  }
}

TEST_CASE("gather_rows: a shuffled mini-batch from the resident dataset, exact") {
  Fixture f;
  constexpr std::size_t kDatasetRows = 5003;
  for (const std::size_t cols : {std::size_t{1}, std::size_t{7}, std::size_t{31}, std::size_t{1000}}) {
    const std::vector<float> source = random_floats(kDatasetRows * cols, seed_of(cols, 15));
    for (const std::size_t rows : kAwkwardSizes) {
      std::vector<std::uint32_t> indices(rows);
      Random random(seed_of(rows, cols, 16));
      for (std::uint32_t& index : indices) index = static_cast<std::uint32_t>(random.below(kDatasetRows));
      std::vector<float> expected(rows * cols);
      f.cpu.gather_rows(source.data(), indices.data(), expected.data(), rows, cols);
      DeviceBuffer d_source(*f.gpu, source), d_indices(*f.gpu, indices), d_out(*f.gpu, rows * cols * sizeof(float));
      f.gpu->gather_rows(d_source.floats(), static_cast<const std::uint32_t*>(d_indices.get()), d_out.floats(), rows, cols);
      INFO(shape_name(rows, cols));
      CHECK(bitwise_equal(d_out.download(), expected));
    }
  }
}

}  // namespace egc::test

namespace egc::test {

TEST_CASE("dropout activations and the residual epilogue: the same masks, the CPU's values") {
  Fixture f;
  for (const auto& [rows, cols] : shapes()) {
    if (rows * cols > 1000 * 1000) continue;  // the masks' statistics need no more
    const std::vector<float> x = random_floats(rows * cols, seed_of(rows, cols, 20), -3.0, 3.0);
    const std::vector<float> bias = random_floats(cols, seed_of(cols, 21)), grad = random_floats(rows * cols, seed_of(rows, cols, 22));
    const DropoutMask mask = math::dropout_mask(0.25, seed_of(rows, cols), 4, 1, 3);
    for (const Activation activation : {Activation::relu, Activation::gelu, Activation::tanh}) {
      INFO(shape_name(rows, cols) << " " << std::string(to_string(activation)));
      std::vector<float> out = x, pre(x.size()), again(x.size()), g = grad;
      f.cpu.bias_activation_forward(out.data(), pre.data(), bias.data(), rows, cols, activation, mask);
      f.cpu.activation_forward(pre.data(), again.data(), rows, cols, activation, mask);
      f.cpu.activation_backward(g.data(), pre.data(), rows, cols, activation, true, mask);
      DeviceBuffer d_out(*f.gpu, x), d_pre(*f.gpu, x.size() * sizeof(float)), d_bias(*f.gpu, bias),
          d_again(*f.gpu, x.size() * sizeof(float)), d_grad(*f.gpu, grad);
      f.gpu->bias_activation_forward(d_out.floats(), d_pre.floats(), d_bias.floats(), rows, cols, activation, mask);
      f.gpu->activation_forward(d_pre.floats(), d_again.floats(), rows, cols, activation, mask);
      f.gpu->activation_backward(d_grad.floats(), d_pre.floats(), rows, cols, activation, true, mask);
      const std::vector<float> got = d_out.download(), got_again = d_again.download(), got_grad = d_grad.download();
      // The masks are Philox's bits on both: dropped elements are exactly 0 in the same places.
      std::size_t dropped = 0, nonzero = 0;
      for (std::size_t e = 0; e < x.size(); ++e) {
        if (mask.keep(e)) continue;
        ++dropped;
        nonzero += got[e] != 0.0f || got_grad[e] != 0.0f || out[e] != 0.0f;
      }
      CHECK(nonzero == 0);
      CHECK((x.size() < 100 || dropped > 0));
      CHECK(bitwise_equal(d_pre.download(), pre));  // one IEEE addition
      CHECK(bitwise_equal(got_again, got));         // the backward's recompute is the forward's bits
      // As without dropout (above): relu exact; tanh and GELU a few ulp of |z| x scale; the
      // derivatives (from the pre-activation, tanh recomputed) a few ulp more: 4e-6.
      const double scale = 1.0 / 0.75;
      std::vector<float> z(x.size());
      for (std::size_t e = 0; e < z.size(); ++e) z[e] = static_cast<float>(scale) * std::abs(pre[e]);
      if (activation == Activation::relu) {
        CHECK(bitwise_equal(got, out));
        CHECK(bitwise_equal(got_grad, g));
      } else {
        CHECK(error_relative_to(got, out, z) <= 1e-6);
        CHECK(error_relative_to(got_grad, g, grad) <= 4e-6 * scale);
      }
    }
    // y + b + x: two IEEE additions in the same order on both, no product to contract: exact.
    std::vector<float> y = grad;
    f.cpu.bias_residual_forward(y.data(), bias.data(), x.data(), rows, cols);
    DeviceBuffer d_y(*f.gpu, grad), d_bias(*f.gpu, bias), d_x(*f.gpu, x);
    f.gpu->bias_residual_forward(d_y.floats(), d_bias.floats(), d_x.floats(), rows, cols);
    CHECK(bitwise_equal(d_y.download(), y));
  }
}

TEST_CASE("layernorm forward and backward against the CPU reference") {
  Fixture f;
  for (const auto& [rows, cols] : shapes()) {
    const std::size_t count = rows * cols;
    if (count > 1000 * 1000) continue;  // gpu-check's time (and compute-sanitizer's): the rows are the rows
    const std::vector<float> x = random_floats(count, seed_of(rows, cols, 30), -2.0, 3.0);
    const std::vector<float> gamma = random_floats(cols, seed_of(cols, 31), 0.5, 1.5), beta = random_floats(cols, seed_of(cols, 32));
    const std::vector<float> g = random_floats(count, seed_of(rows, cols, 33)), residual = random_floats(count, seed_of(rows, cols, 34));
    std::vector<float> out(count), stats(2 * rows), grad_x = residual, d_gamma(cols), d_beta(cols);
    f.cpu.layernorm_forward(x.data(), out.data(), stats.data(), gamma.data(), beta.data(), rows, cols, true);
    f.cpu.layernorm_backward(g.data(), x.data(), stats.data(), gamma.data(), grad_x.data(), d_gamma.data(), d_beta.data(),
                             rows, cols, false, nullptr);
    DeviceBuffer dx(*f.gpu, x), d_out(*f.gpu, count * sizeof(float)), d_stats(*f.gpu, 2 * rows * sizeof(float)),
        d_g(*f.gpu, gamma), d_b(*f.gpu, beta), d_grad(*f.gpu, g), d_grad_x(*f.gpu, residual),
        d_dgamma(*f.gpu, cols * sizeof(float)), d_dbeta(*f.gpu, cols * sizeof(float)), d_product(*f.gpu, count * sizeof(float));
    f.gpu->layernorm_forward(dx.floats(), d_out.floats(), d_stats.floats(), d_g.floats(), d_b.floats(), rows, cols, true);
    // The statistics' float64 sums differ in order only: after rounding to float, equal but for a
    // straddled rounding boundary (2^-29 a value); the output then a product and a sum that nvcc
    // may contract into an FMA: an ulp or two of |x-hat gamma| + |beta|.
    const std::vector<float> got_stats = d_stats.download();
    CHECK(relative_error(got_stats, stats) <= 1e-7);
    std::vector<double> scale(count);
    for (std::size_t e = 0; e < count; ++e)
      scale[e] = std::abs(math::normalized(x[e], stats[e / cols], stats[rows + e / cols]) * gamma[e % cols]) + std::abs(beta[e % cols]);
    INFO(shape_name(rows, cols));
    CHECK(error_relative_to(d_out.download(), out, scale) <= 1e-6);
    f.gpu->layernorm_backward(d_grad.floats(), dx.floats(), d_stats.floats(), d_g.floats(), d_grad_x.floats(),
                              d_dgamma.floats(), d_dbeta.floats(), rows, cols, false, d_product.floats());
    // dL/dx = rstd (g gamma - A - x-hat B) + residual: the row means in float64 (order only), the
    // element a handful of roundings (FMAs on the GPU): a few ulp of the terms' magnitudes.
    for (std::size_t r = 0; r < rows; ++r) {
      const math::RowGradientMeans<float> means = math::layernorm_row_means(
          g.data() + r * cols, x.data() + r * cols, gamma.data(), stats[r], stats[rows + r], cols);
      for (std::size_t c = 0, e = r * cols; c < cols; ++c, ++e)
        scale[e] = stats[rows + r] * (std::abs(g[e] * gamma[c]) + std::abs(means.a) +
                                      std::abs(math::normalized(x[e], stats[r], stats[rows + r]) * means.b)) +
                   std::abs(residual[e]);
    }
    CHECK(error_relative_to(d_grad_x.download(), grad_x, scale) <= 2e-6);
    // gamma's and beta's gradients: the tiled float column sums against float64 ones, the bias
    // gradient's bound (82 eps of the sum of |terms|; see bias_gradient above).
    std::vector<double> gamma_scale(cols, 0.0), beta_scale(cols, 0.0);
    for (std::size_t e = 0; e < count; ++e) {
      gamma_scale[e % cols] += std::abs(g[e] * math::normalized(x[e], stats[e / cols], stats[rows + e / cols]));
      beta_scale[e % cols] += std::abs(g[e]);
    }
    CHECK(error_relative_to(d_dgamma.download(), d_gamma, gamma_scale) <= 1.2e-5);
    CHECK(error_relative_to(d_dbeta.download(), d_beta, beta_scale) <= 1.2e-5);
  }
}

TEST_CASE("cross_entropy_loss: loss, correct count and gradient against the CPU reference") {
  Fixture f;
  for (const std::size_t rows : kAwkwardSizes) {
    for (const std::size_t classes : {std::size_t{2}, std::size_t{10}, std::size_t{1000}}) {
      if (rows * classes > 1000 * 1000) continue;  // as above
      const std::vector<float> logits = random_floats(rows * classes, seed_of(rows, classes, 40), -8.0, 8.0);
      std::vector<float> targets(rows);
      Random random(seed_of(rows, classes, 41));
      for (float& t : targets) t = static_cast<float>(random.below(classes));
      std::vector<float> loss(2), grad(rows * classes);
      f.cpu.cross_entropy_loss(logits.data(), targets.data(), loss.data(), grad.data(), rows, classes, 0.5f);
      DeviceBuffer d_logits(*f.gpu, logits), d_targets(*f.gpu, targets), d_loss(*f.gpu, 2 * sizeof(float)),
          d_grad(*f.gpu, rows * classes * sizeof(float));
      f.gpu->cross_entropy_loss(d_logits.floats(), d_targets.floats(), d_loss.floats(), d_grad.floats(), rows, classes, 0.5f);
      const std::vector<float> got = d_loss.download();
      std::uint32_t cpu_correct = 0, gpu_correct = 0;
      std::memcpy(&cpu_correct, &loss[1], 4);
      std::memcpy(&gpu_correct, &got[1], 4);
      INFO("rows=" << rows << " classes=" << classes << " loss " << got[0] << " vs " << loss[0]);
      // Each row: the log-sum-exp from expf (CUDA within 2 ulp, glibc 1) summed in float64 and a
      // float64 log, rounded to float: ulp-level of lse; the mean in float64: 1e-6 of the loss.
      CHECK(std::abs(got[0] - loss[0]) <= 1e-6 * std::abs(loss[0]));
      CHECK(gpu_correct == cpu_correct);  // the argmax of the same logits: exactly
      // softmax - one_hot from expf(z - lse): a few ulp of the probabilities, scaled by 0.5 / rows.
      CHECK(relative_error(d_grad.download(), grad) <= 2e-6);
    }
  }
}

}  // namespace egc::test
