// TrainingState: everything that decides the rest of a run besides the flags — the parameters,
// the optimizer state, the step count (Adam's bias correction), the position in the shuffled
// order and the shuffling's random state — read from a Trainer and written back into one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace egc {

struct TrainingState {
  std::vector<float> params;
  // In the flat parameter layout, whatever the plan; empty where the optimizer has none.
  std::vector<float> velocity;  // SGD momentum
  std::vector<float> adam_m;
  std::vector<float> adam_v;
  std::size_t step = 0;    // optimizer steps done
  std::size_t epoch = 0;   // epochs started before the current one
  std::size_t cursor = 0;  // the next batch starts at order[cursor]
  std::vector<std::uint32_t> order;  // the current epoch's shuffled training rows
  std::string shuffle_state;         // Random::state() of the shuffling stream
};

}  // namespace egc
