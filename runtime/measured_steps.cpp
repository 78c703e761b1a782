// train_and_measure: the sampling policy of the memory proof.
#include "runtime/measured_steps.h"

#include <algorithm>
#include <chrono>

namespace egc {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

MeasuredSteps train_and_measure(Trainer& trainer, MemoryMeter& meter, std::size_t steps, std::size_t sampled_steps,
                                const StepCallback& on_step) {
  Executor& executor = trainer.executor();
  const Executor::OpHook previous = executor.hook();
  struct RestoreHook {  // also when a step throws: the hook below refers to this frame
    Executor& executor;
    const Executor::OpHook& previous;
    ~RestoreHook() { executor.set_hook(previous); }
  } restore{executor, previous};
  MeasuredSteps result;
  const auto sample_every_op = [&](std::size_t op, bool after) {
    if (previous) previous(op, after);
    meter.sample_op(op, after);
  };
  result.losses.reserve(steps);
  result.step_ms.reserve(steps);
  for (std::size_t step = 0; step < steps; ++step) {
    executor.set_hook(step < sampled_steps ? Executor::OpHook(sample_every_op) : previous);
    if (step == 0) meter.start_timeline(trainer.executor().plan().ops.size());
    const auto start = std::chrono::steady_clock::now();
    const float loss = trainer.train_step();
    result.step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (step == 0) meter.stop_timeline();
    meter.sample();
    result.losses.push_back(loss);
    if (on_step) on_step(step + 1, loss);
  }
  result.memory = meter.result(trainer.memory());
  return result;
}

}  // namespace egc
