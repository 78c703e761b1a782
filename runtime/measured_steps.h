// What measured training steps return (Session::train): the memory the meter saw, each step's
// loss and wall time; and the median the reports quote.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "runtime/memory_meter.h"

namespace egc {

struct MeasuredSteps {
  MeasuredMemory memory;       // its timeline holds the samples of the first step
  std::vector<float> losses;   // one per step
  std::vector<float> accuracies;  // cross-entropy: the share of each step's samples classified correctly
  std::vector<double> step_ms; // wall time of each step (a step ends when its loss is read back)
};

// The median (the mean of the two middle values for an even count); 0 for none.
double median(std::vector<double> values);

// Called after each step with its number (from 1) and loss.
using StepCallback = std::function<void(std::size_t step, float loss)>;

}  // namespace egc
