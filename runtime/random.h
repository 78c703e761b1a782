// Seeded random numbers that give the same sequence on every platform: SplitMix64 to derive
// independent streams from one seed, mt19937_64 for draws, our own uniform and Box-Muller.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace egc {

// Independent stream `stream` of `seed` (parameters, data, shuffling never share draws).
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1) from 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Standard normal (Box-Muller; one draw per call, deterministic).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)); }
  // Fisher-Yates with our own draws (std::shuffle's algorithm is unspecified).
  // The engine's whole state as text (the standard's textual representation), and back: a
  // checkpoint resumes the stream exactly. set_state returns false for text that is not one.
  std::string state() const {
    std::ostringstream out;
    out << engine_;
    return out.str();
  }
  bool set_state(const std::string& text) {
    std::istringstream in(text);
    std::mt19937_64 engine;
    in >> engine;
    if (in.fail() || !(in >> std::ws).eof()) return false;
    engine_ = engine;
    return true;
  }
  template <class T>
  void shuffle(T* items, std::size_t count) {
    for (std::size_t i = count; i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(items[i - 1], items[j]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace egc
