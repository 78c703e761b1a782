// Dropout masks drawn from Philox-4x32-10 (philox.h), never stored: the key is the run's dropout
// seed and the counter names the element, so a recomputation, or a backward pass, draws the very
// same mask again. The activation and its derivative with dropout applied, element by element,
// shared by the CPU reference and the CUDA kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/elementwise_math.h"
#include "kernels/philox.h"

namespace egc::math {

// Layout: key = (seed bits 0-31, seed bits 32-63); counter = (element / 4, unit, micro-batch,
// step), so element e of a unit's [rows x cols] tensor (e = row * cols + column) takes word
// e % 4 of its group's draw. It is kept when that word is at least `threshold` = floor(p 2^32),
// with probability 1 - p (to 2^-32), and then scaled by 1 / (1 - p), as torch.nn.Dropout does.
// A unit's tensor holds fewer than 2^34 elements (ModelSpec validation), so groups fit in 32 bits.
struct DropoutMask {
  std::uint32_t threshold = 0;  // 0: no dropout (p = 0)
  float scale = 1.0f;
  std::uint32_t seed_lo = 0, seed_hi = 0;
  std::uint32_t unit = 0, micro = 0, step = 0;

  EGC_HOST_DEVICE bool enabled() const { return threshold != 0; }
  // The four words of element group `group` (elements 4 group .. 4 group + 3).
  EGC_HOST_DEVICE Philox4x32 draw(std::size_t group) const {
    return philox4x32_10(Philox4x32{{static_cast<std::uint32_t>(group), unit, micro, step}}, seed_lo, seed_hi);
  }
  EGC_HOST_DEVICE bool keep(std::size_t element) const {
    return !enabled() || draw(element / 4).v[element % 4] >= threshold;
  }
};

// The mask of probability p (in [0, 1)) for one unit's tensor in one micro-batch of one step.
inline DropoutMask dropout_mask(double p, std::uint64_t seed, std::size_t step, std::size_t micro, std::size_t unit) {
  DropoutMask mask;
  mask.threshold = static_cast<std::uint32_t>(p * 4294967296.0);  // floor(p 2^32) < 2^32 for p < 1
  mask.scale = mask.threshold == 0 ? 1.0f : static_cast<float>(1.0 / (1.0 - p));
  mask.seed_lo = static_cast<std::uint32_t>(seed);
  mask.seed_hi = static_cast<std::uint32_t>(seed >> 32);
  mask.unit = static_cast<std::uint32_t>(unit);
  mask.micro = static_cast<std::uint32_t>(micro);
  mask.step = static_cast<std::uint32_t>(step);  // steps beyond 2^32 reuse masks: harmless
  return mask;
}

// The unit's output at element e from its pre-activation z: activation, then dropout (the kept
// value times the scale, as PyTorch's input * mask * scale rounds it).
template <class T>
EGC_HOST_DEVICE T activate_dropped(int code, T z, bool kept, T scale) {
  const T a = activate(code, z);
  return kept ? a * scale : T(0);
}

// The gradient of the pre-activation from that of the dropped output g: PyTorch's order,
// dropout's backward (g * scale, or 0) and then the activation's (times its derivative from
// `saved`, as activation_derivative reads it).
template <class T>
EGC_HOST_DEVICE T dropped_gradient(int code, T g, T saved, bool from_pre, bool kept, T scale) {
  return kept ? (g * scale) * activation_derivative(code, saved, from_pre) : T(0);
}

}  // namespace egc::math
