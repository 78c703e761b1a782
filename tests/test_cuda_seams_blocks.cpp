// CPU tests of the CUDA kernels' bodies for residual blocks, dropout and cross-entropy: each
// __host__ __device__ body run over its launcher's grid by the host emulation, against the CPU
// reference, bit for bit, over awkward sizes and misaligned starts. Built in every build.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/column_sum.h"
#include "kernels/dropout.h"
#include "kernels/elementwise_bodies.h"
#include "kernels/launch_config.h"
#include "kernels/row_bodies.h"
#include "kernels/vector_access.h"
#include "runtime/cpu_math.h"
#include "runtime/random.h"
#include "tests/seams_support.h"

namespace egc::cuda {
namespace {

constexpr std::size_t kRows[] = {1, 3, 7, 33};
constexpr std::size_t kCols[] = {1, 4, 5, 31, 64};

}  // namespace

TEST_CASE("seams: activation bodies with a dropout mask, packs and single elements, bit for bit with the CPU") {
  int cases = 0;
  for (const std::size_t rows : kRows) {
    for (const std::size_t cols : kCols) {
      const std::size_t count = rows * cols;
      const std::vector<float> x = random_floats(count, rows * 31 + cols, -3.0, 3.0), bias = random_floats(cols, cols);
      const std::vector<float> grad = random_floats(count, rows * 31 + cols + 1);
      for (const double p : {0.0, 0.3}) {
        const math::DropoutMask mask = math::dropout_mask(p, rows * 1000 + cols, 3, 1, 2);
        for (const std::size_t offset : {0, 1}) {
          for (const int code : {math::kRelu, math::kGelu, math::kTanh}) {
            with_activation(code, [&](auto constant) {
              constexpr int kCode = decltype(constant)::value;
              INFO("rows=" << rows << " cols=" << cols << " p=" << p << " offset=" << offset << " code=" << kCode);
              std::vector<float> out = x, pre(count, 0.0f);
              cpu::bias_activation_forward(out.data(), pre.data(), bias.data(), rows, cols, kCode, mask);
              Floats d_out(x, offset), d_pre(std::vector<float>(count, 0.0f), offset);
              CHECK(run_packs(BiasActivationForward<kCode>{d_out.data(), d_pre.data(), bias.data(), cols, mask}, count) ==
                    (offset == 0));
              CHECK(d_out.equals(out));
              CHECK(d_pre.equals(pre));
              // The backward's recompute of the activation from the pre-activation (a block's backward, a
              // derive op): the forward's bits.
              Floats d_again(std::vector<float>(count, 0.0f), offset), d_source(pre, offset);
              run_packs(ActivationForward<kCode>{d_source.data(), d_again.data(), mask}, count);
              CHECK(d_again.equals(out));
              for (const bool from_pre : {true, false}) {
                const std::vector<float>& saved = from_pre ? pre : out;
                std::vector<float> expected = grad;
                cpu::activation_backward(expected.data(), saved.data(), rows, cols, kCode, from_pre, mask);
                Floats d_grad(grad, offset), d_saved(saved, offset);
                run_packs(ActivationBackward<kCode>{d_grad.data(), d_saved.data(), from_pre, mask}, count);
                CHECK(d_grad.equals(expected));
              }
              ++cases;
            });
          }
        }
      }
    }
  }
  CHECK(cases == 4 * 5 * 2 * 2 * 3);
}

TEST_CASE("seams: the residual epilogue body, bit for bit with the CPU") {
  for (const std::size_t rows : kRows) {
    for (const std::size_t cols : kCols) {
      const std::vector<float> y = random_floats(rows * cols, rows + cols), x = random_floats(rows * cols, rows * cols);
      const std::vector<float> bias = random_floats(cols, cols + 5);
      std::vector<float> expected = y;
      cpu::bias_residual_forward(expected.data(), bias.data(), x.data(), rows, cols);
      for (const std::size_t offset : {0, 1}) {
        Floats d_y(y, offset), d_x(x, offset);
        CHECK(run_packs(BiasResidualForward{d_y.data(), bias.data(), d_x.data(), cols}, rows * cols) == (offset == 0));
        CHECK(d_y.equals(expected));
      }
    }
  }
}

TEST_CASE("seams: LayerNorm's row and element bodies, bit for bit with the CPU") {
  for (const std::size_t rows : kRows) {
    for (const std::size_t cols : kCols) {
      INFO("rows=" << rows << " cols=" << cols);
      const std::size_t count = rows * cols;
      const std::vector<float> x = random_floats(count, rows * 7 + cols, -2.0, 3.0);
      const std::vector<float> gamma = random_floats(cols, cols + 1, 0.5, 1.5), beta = random_floats(cols, cols + 2);
      const std::vector<float> g = random_floats(count, rows * 7 + cols + 3), residual = random_floats(count, count);
      std::vector<float> expected(count), expected_stats(2 * rows);
      cpu::layernorm_forward(x.data(), expected.data(), expected_stats.data(), gamma.data(), beta.data(), rows, cols, true);
      std::vector<float> stats(2 * rows, std::numeric_limits<float>::quiet_NaN()), out(count);
      run_indices(LayerNormRowStats{x.data(), stats.data(), rows, cols}, rows);
      run_indices(LayerNormApply{x.data(), out.data(), stats.data(), gamma.data(), beta.data(), rows, cols}, count);
      CHECK(bitwise_equal(stats, expected_stats));
      CHECK(bitwise_equal(out, expected));
      // The backward: the input gradient added to the residual's exactly as the CPU adds it; the
      // products g x-hat are the CPU's terms of gamma's gradient, which the column sums add up.
      std::vector<float> expected_grad = residual, expected_gamma(cols), expected_beta(cols);
      cpu::layernorm_backward(g.data(), x.data(), stats.data(), gamma.data(), expected_grad.data(), expected_gamma.data(),
                              expected_beta.data(), rows, cols, false);
      std::vector<float> means(2 * rows), grad = residual, product(count);
      run_indices(LayerNormRowMeans{g.data(), x.data(), stats.data(), gamma.data(), means.data(), rows, cols}, rows);
      run_indices(LayerNormInputGradient{g.data(), x.data(), stats.data(), gamma.data(), means.data(), grad.data(),
                                         product.data(), rows, cols},
                  count);
      CHECK(bitwise_equal(grad, expected_grad));
      for (std::size_t e = 0; e < count; ++e)
        CHECK(product[e] == g[e] * math::normalized(x[e], stats[e / cols], stats[rows + e / cols]));
      // gamma's gradient through the kernels' column sum (float, tiled) against the CPU's (float64):
      // the classic bound of a float32 sum of at most 33 terms, 33 eps of the sum of |terms|.
      std::vector<float> partials(bias_backward_scratch_bytes(rows, cols) / sizeof(float)), got(cols);
      const ColumnSumGeometry geometry = column_sum_geometry(rows, cols);
      column_sum_host(geometry, ColumnTiles{product.data(), partials.data(), rows, cols, geometry.rows_per_chunk},
                      ColumnTotals{partials.data(), got.data(), cols, geometry.chunks, false});
      for (std::size_t j = 0; j < cols; ++j) {
        double magnitude = 0;
        for (std::size_t i = 0; i < rows; ++i) magnitude += std::abs(product[i * cols + j]);
        CHECK(std::abs(got[j] - expected_gamma[j]) <= 33 * 1.2e-7 * magnitude + 1e-30);
      }
    }
  }
}

TEST_CASE("seams: cross-entropy's row and gradient bodies, and the loss from their sums, bit for bit with the CPU") {
  for (const std::size_t rows : {1, 3, 7, 200}) {
    for (const std::size_t classes : {2, 3, 10, 37}) {
      INFO("rows=" << rows << " classes=" << classes);
      const std::vector<float> logits = random_floats(rows * classes, rows * 13 + classes, -6.0, 6.0);
      std::vector<float> targets(rows);
      Random random(rows + classes);
      for (float& t : targets) t = static_cast<float>(random.below(classes));
      float expected_loss = 0;
      std::vector<float> expected_grad(rows * classes);
      const std::size_t expected_correct = cpu::cross_entropy_loss(logits.data(), targets.data(), &expected_loss,
                                                                   expected_grad.data(), rows, classes, 0.5f);
      std::vector<float> lse(rows), grad(rows * classes, std::numeric_limits<float>::quiet_NaN());
      std::vector<double> loss(rows);
      std::vector<std::uint32_t> correct(rows);
      run_indices(CrossEntropyRows{logits.data(), targets.data(), lse.data(), loss.data(), correct.data(), classes}, rows);
      run_indices(CrossEntropyGradient{logits.data(), targets.data(), lse.data(), grad.data(), classes, 0.5f,
                                       static_cast<float>(rows)},
                  rows * classes);
      CHECK(bitwise_equal(grad, expected_grad));
      // The rows' losses summed in order (CUB sums them in its own order; the GPU suite bounds that).
      double sum = 0;
      std::uint32_t right = 0;
      for (std::size_t r = 0; r < rows; ++r) sum += loss[r], right += correct[r];
      float result[2];
      finish_cross_entropy(sum, right, rows, result);
      CHECK(result[0] == expected_loss);
      std::uint32_t got_correct = 0;
      std::memcpy(&got_correct, &result[1], sizeof got_correct);
      CHECK(got_correct == expected_correct);
    }
  }
}

TEST_CASE("seams: row kernels' scratch layouts are aligned and disjoint") {
  for (const std::size_t rows : {1, 7, 64, 1000}) {
    const CrossEntropyScratch s = cross_entropy_scratch(rows);
    for (std::size_t offset : {s.lse, s.loss, s.correct, s.sums, s.end}) CHECK(offset % kScratchAlignment == 0);
    CHECK(s.loss >= s.lse + rows * sizeof(float));
    CHECK(s.correct >= s.loss + rows * sizeof(double));
    CHECK(s.sums >= s.correct + rows * sizeof(std::uint32_t));
    CHECK(s.end >= s.sums + 2 * sizeof(double));
    CHECK(layernorm_scratch_bytes(rows) >= 2 * rows * sizeof(float));
  }
}

}  // namespace egc::cuda
