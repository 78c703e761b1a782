// Dropout: Philox-4x32-10 against Random123's known answers, the masks' keying (the same key
// draws the same mask in any order; any other field of the key another one) and statistics, and
// dropout's place in the forward and backward math.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/philox.h"
#include "runtime/cpu_math.h"

using namespace egc;
using math::DropoutMask;
using math::Philox4x32;

TEST_CASE("Philox-4x32-10 gives Random123's known answers") {
  // Random123's kat_vectors, philox4x32 10 (as reproduced in DEShawResearch/fs123's
  // core123/ut/ut_philox.cpp): counter (4 words), key (2 words) -> 4 words.
  struct Known {
    Philox4x32 counter;
    std::uint32_t k0, k1;
    Philox4x32 expected;
  };
  const Known cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Known& c : cases) {
    const Philox4x32 got = math::philox4x32_10(c.counter, c.k0, c.k1);
    for (int i = 0; i < 4; ++i) CHECK(got.v[i] == c.expected.v[i]);
  }
}

TEST_CASE("dropout masks: keyed by seed, step, micro-batch, unit and element, drawn again alike in any order") {
  const DropoutMask mask = math::dropout_mask(0.1, 0x0123456789abcdefull, 7, 1, 3);
  CHECK(mask.enabled());
  CHECK(mask.threshold == 429496729u);  // floor(0.1 x 2^32)
  CHECK(mask.scale == static_cast<float>(1.0 / 0.9));
  CHECK(mask.seed_lo == 0x89abcdefu);
  CHECK(mask.seed_hi == 0x01234567u);
  CHECK(!math::dropout_mask(0.0, 1, 1, 0, 0).enabled());
  CHECK(math::dropout_mask(0.0, 1, 1, 0, 0).keep(12345));
  constexpr std::size_t kElements = 1 << 16;
  std::vector<bool> forward(kElements), backward(kElements);
  for (std::size_t e = 0; e < kElements; ++e) forward[e] = mask.keep(e);
  for (std::size_t e = kElements; e-- > 0;) backward[e] = mask.keep(e);
  CHECK(forward == backward);  // a pure function of the element: any order, any grid
  // One group of four elements per draw: element e is word e % 4 of draw e / 4.
  const Philox4x32 group = mask.draw(5);
  for (std::size_t i = 0; i < 4; ++i) CHECK(mask.keep(20 + i) == (group.v[i] >= mask.threshold));
  // Every field of the key gives another mask (about 18% of elements differ between two masks
  // at p = 0.1: 2 p (1 - p)).
  auto differing = [&](const DropoutMask& other) {
    std::size_t count = 0;
    for (std::size_t e = 0; e < kElements; ++e) count += forward[e] != other.keep(e);
    return static_cast<double>(count) / kElements;
  };
  for (const DropoutMask& other :
       {math::dropout_mask(0.1, 0x0123456789abcdeeull, 7, 1, 3), math::dropout_mask(0.1, 0x1123456789abcdefull, 7, 1, 3),
        math::dropout_mask(0.1, 0x0123456789abcdefull, 8, 1, 3), math::dropout_mask(0.1, 0x0123456789abcdefull, 7, 0, 3),
        math::dropout_mask(0.1, 0x0123456789abcdefull, 7, 1, 4)})
    CHECK(std::abs(differing(other) - 0.18) < 0.01);  // sd of the share: sqrt(0.18 x 0.82 / 65536) = 0.0015
}

TEST_CASE("dropout masks keep 1 - p of the elements, independently") {
  for (const double p : {0.1, 0.5, 0.9}) {
    const DropoutMask mask = math::dropout_mask(p, 42, 1, 0, 2);
    constexpr std::size_t kElements = 1 << 18;
    std::size_t kept = 0, kept_pairs = 0;
    bool previous = mask.keep(0);
    for (std::size_t e = 0; e < kElements; ++e) {
      const bool keep = mask.keep(e);
      kept += keep;
      if (e > 0) kept_pairs += keep && previous;
      previous = keep;
    }
    // Binomial: sd of the kept share is sqrt(p (1 - p) / n) <= 0.001 here; 5 sd.
    const double share = static_cast<double>(kept) / kElements;
    CAPTURE(p);
    CHECK(std::abs(share - (1 - p)) < 0.005);
    // Neighbours (often in one Philox draw) are independent: both kept with probability (1 - p)^2.
    CHECK(std::abs(static_cast<double>(kept_pairs) / (kElements - 1) - (1 - p) * (1 - p)) < 0.005);
  }
}

TEST_CASE("dropout in the math: kept values scaled by 1 / (1 - p), dropped ones zero, and the gradient alike") {
  const DropoutMask mask = math::dropout_mask(0.5, 9, 2, 0, 1);
  constexpr std::size_t kRows = 7, kCols = 9;
  std::vector<float> pre(kRows * kCols), out = std::vector<float>(kRows * kCols, 0.0f);
  for (std::size_t e = 0; e < pre.size(); ++e) pre[e] = static_cast<float>(e % 11) * 0.3f - 1.4f;
  cpu::activation_forward(pre.data(), out.data(), kRows, kCols, math::kTanh, mask);
  std::vector<float> grad(pre.size(), 1.0f);
  cpu::activation_backward(grad.data(), pre.data(), kRows, kCols, math::kTanh, true, mask);
  std::size_t dropped = 0;
  for (std::size_t e = 0; e < pre.size(); ++e) {
    const float t = std::tanh(pre[e]);
    if (mask.keep(e)) {
      CHECK(out[e] == t * 2.0f);                     // scale 1 / (1 - 0.5) = 2, exactly
      CHECK(grad[e] == (1.0f * 2.0f) * (1.0f - t * t));  // PyTorch's order: dropout's backward, then tanh's
    } else {
      CHECK(out[e] == 0.0f);
      CHECK(grad[e] == 0.0f);
      ++dropped;
    }
  }
  CHECK(dropped > 0);
  // Without a mask (p = 0) the activation is exactly the plain one: x 1 changes no bit.
  std::vector<float> plain = pre;
  cpu::activation_forward(pre.data(), plain.data(), kRows, kCols, math::kGelu, DropoutMask{});
  for (std::size_t e = 0; e < pre.size(); ++e) CHECK(plain[e] == math::gelu(pre[e]));
}
