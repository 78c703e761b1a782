// CPU tests of the CUDA kernels' bodies: each kernel's __host__ __device__ body, run over the
// launcher's grid by the host emulation, against the CPU reference, bit for bit, over awkward
// sizes and misaligned starts. Built in every build, with or without CUDA.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/column_sum.h"
#include "kernels/elementwise_bodies.h"
#include "kernels/launch_config.h"
#include "kernels/vector_access.h"
#include "runtime/cpu_math.h"
#include "runtime/random.h"
#include "tests/seams_support.h"

namespace egc::cuda {
namespace {

constexpr std::size_t kAwkwardCounts[] = {1, 3, 4, 5, 7, 31, 1000, 4097};

// Integers in [-8, 8]: column sums of them are exact in float, whatever the summation order.
std::vector<float> random_integers(std::size_t count, std::uint64_t seed) {
  Random random(seed);
  std::vector<float> values(count);
  for (float& value : values) value = static_cast<float>(static_cast<int>(random.below(17)) - 8);
  return values;
}

}  // namespace

TEST_CASE("seams: bias + activation forward and activation backward bodies, bit for bit with the CPU") {
  int cases = 0;
  for (const std::size_t rows : {1, 3, 7, 31}) {
    for (const std::size_t cols : kAwkwardCounts) {
      const std::size_t count = rows * cols;
      const std::vector<float> x = random_floats(count, rows * 7919 + cols, -3.0, 3.0);
      const std::vector<float> bias = random_floats(cols, cols);
      const std::vector<float> grad = random_floats(count, rows * 7919 + cols + 1);
      for (const std::size_t offset : {0, 1}) {
        for (const int code : {math::kIdentity, math::kRelu, math::kGelu, math::kTanh}) {
          with_activation(code, [&](auto constant) {
            constexpr int kCode = decltype(constant)::value;
            INFO("rows=" << rows << " cols=" << cols << " offset=" << offset << " activation=" << kCode);
            for (const bool with_pre : {true, false}) {
              std::vector<float> out = x, pre(count, 0.0f);
              cpu::bias_activation_forward(out.data(), with_pre ? pre.data() : nullptr, bias.data(), rows, cols, kCode);
              Floats d_out(x, offset), d_pre(std::vector<float>(count, 0.0f), offset);
              const BiasActivationForward<kCode> body{d_out.data(), with_pre ? d_pre.data() : nullptr, bias.data(), cols, {}};
              CHECK(run_packs(body, count) == (offset == 0));
              CHECK(d_out.equals(out));
              if (with_pre) CHECK(d_pre.equals(pre));
              ++cases;
            }
            // Backward from what the forward pass keeps: the output (relu, tanh) or pre (GELU).
            const std::vector<float> saved = kCode == math::kGelu ? x : random_floats(count, count, -0.999, 0.999);
            std::vector<float> expected = grad;
            cpu::activation_backward(expected.data(), saved.data(), rows, cols, kCode);
            Floats d_grad(grad, offset), d_saved(saved, offset);
            CHECK(run_packs(ActivationBackward<kCode>{d_grad.data(), d_saved.data(), false, {}}, count) == (offset == 0));
            CHECK(d_grad.equals(expected));
          });
        }
      }
    }
  }
  CHECK(cases == 4 * 8 * 2 * 4 * 2);
  CHECK_THROWS_AS(with_activation(4, [](auto) {}), std::logic_error);
}

TEST_CASE("seams: a float4 at a misaligned address is refused, as the device would fault") {
  const std::vector<float> values = random_floats(9, 1);
  Floats aligned(values, 0), misaligned(values, 1), grad(values, 0);
  CHECK_NOTHROW(load_pack<4>(aligned.data()));
  CHECK_THROWS_AS(load_pack<4>(misaligned.data()), std::logic_error);
  CHECK_THROWS_AS(store_pack<4>(misaligned.data(), Pack<4>{}), std::logic_error);
  CHECK_NOTHROW(load_pack<1>(misaligned.data()));
  // One misaligned array among aligned ones: the body says no to the vector path, and forcing it
  // anyway is caught by the emulation.
  const ActivationBackward<math::kTanh> body{grad.data(), misaligned.data(), false, {}};
  CHECK_FALSE(body.vectorizable());
  CHECK_THROWS_AS(for_each_pack_host(pack_launch(8, true), 8, true, body), std::logic_error);
  CHECK_FALSE((BiasActivationForward<math::kRelu>{aligned.data(), misaligned.data(), aligned.data(), 3, {}}.vectorizable()));
  CHECK((BiasActivationForward<math::kRelu>{aligned.data(), nullptr, misaligned.data(), 3, {}}.vectorizable()));
}

TEST_CASE("seams: SGD and Adam bodies over packs, every array aligned or not, bit for bit with the CPU") {
  struct Offsets {
    std::size_t params, grads, first, second;  // first: velocity or m; second: v
  };
  const Offsets offset_cases[] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {3, 3, 3, 3}, {0, 1, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 3}};
  for (const std::size_t count : kAwkwardCounts) {
    const std::vector<float> params = random_floats(count, count + 11), grads = random_floats(count, count + 12);
    const std::vector<float> state = random_floats(count, count + 13);
    const std::vector<float> second = random_floats(count, count + 14, 0.0, 0.01);  // Adam's v >= 0
    for (const Offsets& o : offset_cases) {
      const bool aligned = o.params == 0 && o.grads == 0 && o.first == 0 && o.second == 0;
      INFO("count=" << count << " offsets=" << o.params << "," << o.grads << "," << o.first << "," << o.second);
      for (const float momentum : {0.9f, 0.0f}) {
        std::vector<float> p = params, v = state;
        cpu::sgd_update(p.data(), grads.data(), momentum > 0 ? v.data() : nullptr, count, 0.01f, momentum);
        Floats dp(params, o.params), dg(grads, o.grads), dv(state, o.first);
        const bool vectorized = momentum > 0 ? run_packs(SgdUpdate<true>{dp.data(), dg.data(), dv.data(), 0.01f, momentum}, count)
                                             : run_packs(SgdUpdate<false>{dp.data(), dg.data(), nullptr, 0.01f, momentum}, count);
        CHECK(vectorized == (o.params == 0 && o.grads == 0 && (momentum == 0 || o.first == 0)));  // v unused
        CHECK(dp.equals(p));
        CHECK(dv.equals(momentum > 0 ? v : state));
      }
      for (const std::size_t step : {1, 10}) {
        std::vector<float> p = params, m = state, v = second;
        cpu::adam_update(p.data(), grads.data(), m.data(), v.data(), count, 0.001f, 0.9f, 0.999f, 1e-8f, step);
        Floats dp(params, o.params), dg(grads, o.grads), dm(state, o.first), dv(second, o.second);
        CHECK(run_packs(adam_update_body(dp.data(), dg.data(), dm.data(), dv.data(), 0.001f, 0.9f, 0.999f, 1e-8f, step),
                        count) == aligned);
        CHECK(dp.equals(p));
        CHECK(dm.equals(m));
        CHECK(dv.equals(v));
      }
    }
  }
}

TEST_CASE("seams: MSE loss pieces and the gather body, bit for bit with the CPU") {
  for (const std::size_t count : kAwkwardCounts) {
    const std::vector<float> pred = random_floats(count, count + 21), target = random_floats(count, count + 22);
    for (const float scale : {1.0f, 0.5f}) {
      INFO("count=" << count << " scale=" << scale);
      float expected_loss = 0;
      std::vector<float> expected_grad(count);
      cpu::mse_loss(pred.data(), target.data(), &expected_loss, expected_grad.data(), count, 1, scale);
      std::vector<float> grad(count, std::numeric_limits<float>::quiet_NaN());
      run_indices(MseGradient{pred.data(), target.data(), grad.data(), scale, static_cast<float>(count)}, count);
      CHECK(bitwise_equal(grad.data(), expected_grad.data(), count));
      // The loss's terms summed in order (CUB sums them in its own order; the GPU suite bounds that).
      double sum = 0;
      for (std::size_t e = 0; e < count; ++e) sum += squared_difference(pred.data(), target.data(), e);
      CHECK(mean_of_sum(sum, count) == expected_loss);
    }
  }
  constexpr std::size_t kSourceRows = 53;
  for (const std::size_t cols : kAwkwardCounts) {
    const std::vector<float> source = random_floats(kSourceRows * cols, cols + 31);
    for (const std::size_t rows : {1, 3, 7, 31, 1000}) {
      INFO("rows=" << rows << " cols=" << cols);
      std::vector<std::uint32_t> indices(rows);
      Random random(rows * 131 + cols);
      for (std::uint32_t& index : indices) index = static_cast<std::uint32_t>(random.below(kSourceRows));
      indices.back() = kSourceRows - 1;  // the source's last row: reads end exactly at its end
      std::vector<float> expected(rows * cols), got(rows * cols, std::numeric_limits<float>::quiet_NaN());
      cpu::gather_rows(source.data(), indices.data(), expected.data(), rows, cols);
      run_indices(GatherRows{source.data(), indices.data(), got.data(), cols}, rows * cols);
      CHECK(bitwise_equal(got.data(), expected.data(), got.size()));
    }
  }
}

TEST_CASE("seams: the column sum's tiles and totals, block by block, exact against the CPU") {
  constexpr std::size_t kGuard = 64;  // floats past the scratch that no thread may write
  const float nan = std::numeric_limits<float>::quiet_NaN();
  int cases = 0;
  for (const std::size_t rows : {0, 1, 3, 7, 8, 9, 63, 64, 65, 129, 1000, 4097, 5000}) {
    for (const std::size_t cols : {1, 3, 5, 31, 32, 33, 100}) {
      const std::vector<float> grad = random_integers(rows * cols, rows * 1009 + cols);
      const std::vector<float> initial = random_integers(cols, cols + 7);
      const ColumnSumGeometry geometry = column_sum_geometry(rows, cols);
      const std::size_t scratch_floats = bias_backward_scratch_bytes(rows, cols) / sizeof(float);
      for (const bool accumulate : {false, true}) {
        INFO("rows=" << rows << " cols=" << cols << " accumulate=" << accumulate << " chunks=" << geometry.chunks);
        std::vector<float> expected = initial, got = initial;
        cpu::bias_gradient(grad.data(), expected.data(), rows, cols, accumulate);
        // NaN everywhere: a partial sum read before it is written, or never written, shows.
        std::vector<float> partials(scratch_floats + kGuard, nan);
        const ColumnTiles tiles{grad.data(), partials.data(), rows, cols, geometry.rows_per_chunk};
        column_sum_host(geometry, tiles, ColumnTotals{partials.data(), got.data(), cols, geometry.chunks, accumulate});
        CHECK(bitwise_equal(got.data(), expected.data(), cols));
        CHECK(std::none_of(partials.begin(), partials.begin() + scratch_floats, [](float x) { return std::isnan(x); }));
        CHECK(std::all_of(partials.begin() + scratch_floats, partials.end(), [](float x) { return std::isnan(x); }));
        ++cases;
      }
    }
  }
  CHECK(cases == 13 * 7 * 2);
}

}  // namespace egc::cuda
