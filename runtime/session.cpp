// Session: the step context, the plan, and a run's set-up in the order the memory proof needs.
#include "runtime/session.h"

#include <chrono>

#include "planner/make_plan.h"
#include "runtime/calibration.h"

namespace egc {

StepContext step_context(const ModelSpec& model, const Dataset& data, Backend& backend, const RunOptions& options) {
  StepContext context;
  context.dataset_rows = data.rows();
  context.workspace_bytes = backend.workspace_bytes(build_chain(model));
  context.single_update = options.single_update;
  context.micro_batches = options.micro_batches;
  context.objective = options.objective;
  context.profile = options.profile ? options.profile : default_profile(backend);
  context.host_memory_bytes = options.host_memory.value_or(0);
  if (options.max_memory) {
    context.memory_limit_bytes = *options.max_memory;
    context.memory_limit_source = MemoryLimitSource::user;
  } else if (const std::optional<std::size_t> free_bytes = backend.device_free_bytes()) {
    context.memory_limit_bytes = *free_bytes;
    context.memory_limit_source = MemoryLimitSource::device;
  }
  return context;
}

Plan plan_run(const ModelSpec& model, const Dataset& data, Backend& backend, const PlanSpec& spec,
              const RunOptions& options) {
  return make_plan(model, step_context(model, data, backend, options), spec);
}

Session::Session(const Plan& plan, Backend& backend, const Dataset& data, const TrainSettings& settings,
                 const std::vector<float>* initial)
    : plan_(plan),
      warmed_up_((backend.warm_up(plan.chain), true)),
      meter_(backend),
      trainer_(plan, backend, data, settings) {
  meter_.setup_done();
  if (initial)
    trainer_.set_parameters(*initial);
  else
    trainer_.initialize_parameters();
}

// The sampling policy of the memory proof: device memory sampled before and after every op of
// the first `sampled_steps` steps (the executor's hook, restored afterwards), once per step after.
MeasuredSteps Session::train(std::size_t steps, std::size_t sampled_steps, const StepCallback& on_step,
                             const std::function<bool()>& stop) {
  Executor& executor = trainer_.executor();
  const Executor::OpHook previous = executor.hook();
  struct RestoreHook {  // also when a step throws: the hook below refers to this frame
    Executor& executor;
    const Executor::OpHook& previous;
    ~RestoreHook() { executor.set_hook(previous); }
  } restore{executor, previous};
  MeasuredSteps result;
  const auto sample_every_op = [&](std::size_t op, bool after) {
    if (previous) previous(op, after);
    meter_.sample_op(op, after);
  };
  result.losses.reserve(steps);
  result.step_ms.reserve(steps);
  for (std::size_t step = 0; step < steps && !(stop && stop()); ++step) {
    executor.set_hook(step < sampled_steps ? Executor::OpHook(sample_every_op) : previous);
    if (step == 0) meter_.start_timeline(plan_.ops.size());
    const auto start = std::chrono::steady_clock::now();
    const float loss = trainer_.train_step();
    result.step_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (step == 0) meter_.stop_timeline();
    meter_.sample();
    result.losses.push_back(loss);
    if (const std::optional<float> accuracy = trainer_.last_accuracy()) result.accuracies.push_back(*accuracy);
    if (on_step) on_step(step + 1, loss);
  }
  result.memory = measured();
  return result;
}

}  // namespace egc
