// The per-element activation math both backends share (kernels/elementwise_math.h): GELU, computed
// in float as x / (1 + exp(-2u)), against the same function (PyTorch's tanh form) in long double.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "kernels/elementwise_math.h"

namespace {

// 0.5 (1 + tanh u) as 1 / (1 + exp(-2u)): in long double the tanh form itself cancels below
// about x = -7 (1 + tanh u falls under long double's epsilon), so the reference is the identity.
long double gelu_reference(long double x) {
  const long double u = 0.7978845608028654L * (x + 0.044715L * x * x * x);
  return x / (1.0L + std::exp(-2.0L * u));
}
long double gelu_derivative_reference(long double x) {
  const long double k = 0.7978845608028654L, c = 0.044715L;
  const long double t = std::tanh(k * (x + c * x * x * x));  // absolute accuracy suffices here
  return 0.5L * (1.0L + t) + 0.5L * x * (1.0L - t * t) * k * (1.0L + 3.0L * c * x * x);
}

}  // namespace

TEST_CASE("GELU in float: within 4e-6 relative of long double from -5, 2e-5 down to -9.5, and its derivative within 1e-6") {
  double worst_value = 0, worst_tail = 0, worst_derivative = 0;
  for (int i = -10000; i <= 10000; ++i) {
    const float x = static_cast<float>(i) * 1e-3f;
    const long double reference = gelu_reference(x);
    const double derivative_error = std::fabs(static_cast<double>(egc::math::gelu_derivative(x) - gelu_derivative_reference(x)));
    worst_derivative = std::max(worst_derivative, derivative_error);
    if (x < -9.5f) {
      CHECK(std::fabs(egc::math::gelu(x)) < 1e-30f);  // the clamped exp: within 1e-30 of a value below 1e-33
    } else if (reference != 0) {
      const double error = static_cast<double>(std::fabs((egc::math::gelu(x) - reference) / reference));
      // Below -5 exp's argument (up to 80) carries its own rounding, a relative error of ~1e-5.
      double& worst = x < -5.0f ? worst_tail : worst_value;
      worst = std::max(worst, error);
    }
  }
  CHECK(worst_value < 4e-6);
  CHECK(worst_tail < 2e-5);
  CHECK(worst_derivative < 1e-6);
  MESSAGE("largest relative error of GELU " << worst_value << " (below -5: " << worst_tail
                                            << "), absolute of its derivative " << worst_derivative);
}

TEST_CASE("GELU's negative tail keeps its relative accuracy (the tanh form's 1 + tanh(u) cancels there)") {
  for (const float x : {-3.0f, -5.0f, -7.0f, -9.0f}) {
    CAPTURE(x);
    const long double reference = gelu_reference(x);
    CHECK(std::fabs(static_cast<double>((egc::math::gelu(x) - reference) / reference)) < 2e-5);
    if (x > -5.0f) continue;
    // What float tanh gives there: 0.5 x (1 + tanhf(u)), off by far more.
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    const float tanh_form = 0.5f * x * (1.0f + std::tanh(u));
    CHECK(std::fabs(static_cast<double>((tanh_form - reference) / reference)) > 1e-5);
  }
}

TEST_CASE("GELU at extreme inputs: no overflow in exp, and the limits x and 0") {
  CHECK(egc::math::gelu(1e30f) == 1e30f);
  CHECK(egc::math::gelu(50.0f) == 50.0f);
  CHECK(std::fabs(egc::math::gelu(-50.0f)) < 1e-30f);
  CHECK(egc::math::gelu_derivative(50.0f) == 1.0f);
  CHECK(std::fabs(egc::math::gelu_derivative(-50.0f)) < 1e-30f);
  CHECK(egc::math::gelu(0.0f) == 0.0f);
  CHECK(egc::math::gelu_derivative(0.0f) == doctest::Approx(0.5f));
  CHECK(std::isfinite(egc::math::gelu(-1e30f)));
}
