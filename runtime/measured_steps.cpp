// train_and_measure: the sampling policy of the memory proof.
#include "runtime/measured_steps.h"

namespace egc {

MeasuredSteps train_and_measure(Trainer& trainer, MemoryMeter& meter, std::size_t steps, std::size_t sampled_steps) {
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
    meter.sample();
  };
  for (std::size_t step = 0; step < steps; ++step) {
    executor.set_hook(step < sampled_steps ? Executor::OpHook(sample_every_op) : previous);
    result.losses.push_back(trainer.train_step());
    meter.sample();
  }
  result.memory = meter.result(trainer.memory());
  return result;
}

}  // namespace egc
