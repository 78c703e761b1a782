// Trainer::state and Trainer::restore: the training state out of and back into the step memory.
#include <array>
#include <stdexcept>
#include <utility>

#include "runtime/trainer.h"

namespace egc {
namespace {

// The optimizer state buffers and the TrainingState members that hold them, in one order.
template <class State>
auto optimizer_buffers(const StepBuffers& s, State& state) {
  return std::array<std::pair<BufferId, decltype(&state.velocity)>, 3>{
      {{s.velocity, &state.velocity}, {s.adam_m, &state.adam_m}, {s.adam_v, &state.adam_v}}};
}

}  // namespace

TrainingState Trainer::state() {
  TrainingState state;
  state.params = parameters();
  for (auto [buffer, values] : optimizer_buffers(plan_.step, state)) {
    if (buffer == kNoBuffer) continue;
    values->resize(plan_.chain.param_count);
    backend_.copy_to_host(values->data(), memory_->pointer(buffer), values->size() * sizeof(float));
  }
  state.step = steps_done_;
  state.epoch = epoch_;
  state.cursor = cursor_;
  state.order = order_;
  state.shuffle_state = shuffler_.state();
  return state;
}

void Trainer::restore(const TrainingState& state) {
  if (state.order.size() != order_.size() || state.cursor > order_.size())
    throw std::logic_error("Trainer::restore: the state's order is not of this trainer's training rows");
  set_parameters(state.params);
  for (auto [buffer, values] : optimizer_buffers(plan_.step, state)) {
    if ((buffer == kNoBuffer) != values->empty() || (!values->empty() && values->size() != plan_.chain.param_count))
      throw std::logic_error("Trainer::restore: the state's optimizer buffers do not match the plan");
    if (buffer != kNoBuffer)
      backend_.copy_to_device(memory_->pointer(buffer), values->data(), values->size() * sizeof(float));
  }
  if (!shuffler_.set_state(state.shuffle_state))
    throw std::logic_error("Trainer::restore: the shuffling state is not a random engine's");
  steps_done_ = state.step;
  epoch_ = state.epoch;
  cursor_ = state.cursor;
  order_ = state.order;
}

}  // namespace egc
