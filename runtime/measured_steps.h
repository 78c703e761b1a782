// Training steps under a MemoryMeter, as the memory proof takes them: device memory sampled
// before and after every op of the first steps (the executor's hook), once per step after.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "runtime/memory_meter.h"
#include "runtime/trainer.h"

namespace egc {

struct MeasuredSteps {
  MeasuredMemory memory;       // its timeline holds the samples of the first step
  std::vector<float> losses;   // one per step
  std::vector<double> step_ms; // wall time of each step (a step ends when its loss is read back)
};

// The median (the mean of the two middle values for an even count); 0 for none.
double median(std::vector<double> values);

// Called after each step with its number (from 1) and loss.
using StepCallback = std::function<void(std::size_t step, float loss)>;

// Construct the meter before the trainer (its baseline precedes the step memory) and call
// meter.setup_done() once the trainer exists. The executor's hook is restored afterwards.
MeasuredSteps train_and_measure(Trainer& trainer, MemoryMeter& meter, std::size_t steps, std::size_t sampled_steps,
                                const StepCallback& on_step = {});

}  // namespace egc
