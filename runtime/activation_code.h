// The one mapping from the planner's Activation to the integer activation code of the kernels'
// shared math (kernels/elementwise_math.h, which includes no planner header); the static_asserts
// stop the build when either enum changes without the other.
#pragma once

#include "kernels/elementwise_math.h"
#include "planner/model_spec.h"

namespace egc {

constexpr int activation_code(Activation activation) { return static_cast<int>(activation); }

static_assert(activation_code(Activation::identity) == math::kIdentity);
static_assert(activation_code(Activation::relu) == math::kRelu);
static_assert(activation_code(Activation::gelu) == math::kGelu);
static_assert(activation_code(Activation::tanh) == math::kTanh);
static_assert(count_of(kActivationNames) == math::kActivationCodeCount, "a new Activation needs its math::ActivationCode");

}  // namespace egc
