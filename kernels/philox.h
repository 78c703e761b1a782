// Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC'11; the generator of cuRAND's and PyTorch's CUDA dropout), a counter-based generator: four
// 32-bit words of output are a pure function of a 128-bit counter and a 64-bit key, so any element
// of any step's mask can be drawn again, in any order, on the host or the device.
#pragma once

#include <cstdint>

#include "kernels/elementwise_math.h"

namespace egc::math {

struct Philox4x32 {
  std::uint32_t v[4];
};

// The multipliers and Weyl increments of Philox-4x32 (Random123's philox.h).
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;

// One round: two 32x32 -> 64-bit products, their halves crossed and XORed with the key.
EGC_HOST_DEVICE Philox4x32 philox_round(const Philox4x32& c, std::uint32_t k0, std::uint32_t k1) {
  const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * c.v[0];
  const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * c.v[2];
  const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
  const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
  return Philox4x32{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
}

// Philox-4x32 with 10 rounds, the key bumped by the Weyl increments between rounds.
EGC_HOST_DEVICE Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t k0, std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    counter = philox_round(counter, k0, k1);
  }
  return counter;
}

}  // namespace egc::math
