// Stopping a training step at its first non-finite value: an executor hook that reads the loss
// of every micro-batch and, when asked (--check-finite), each layer's parameter gradients right
// after its backward, before the update that would spread them into the parameters.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/executor.h"
#include "runtime/trainer.h"

namespace egc {

// A runtime failure (exit code 1) that names where the value appeared.
class NonFiniteError : public std::runtime_error {
 public:
  NonFiniteError(const std::string& what, std::size_t step, std::size_t micro_batch, int layer)
      : std::runtime_error(what), step(step), micro_batch(micro_batch), layer(layer) {}
  std::size_t step;         // the optimizer step (from 1)
  std::size_t micro_batch;  // from 1; 0 where not within one (parameters after a step)
  int layer;                // -1: the loss or no layer
};

class FiniteCheck {
 public:
  // `trainer` must outlive the check; `gradients`: also check each layer's parameter gradients.
  FiniteCheck(Trainer& trainer, Backend& backend, bool gradients);

  // A hook that checks after the ops it watches (throwing NonFiniteError), then calls `next`.
  Executor::OpHook hook(Executor::OpHook next);

 private:
  void after_op(std::size_t op);

  Trainer& trainer_;
  Backend& backend_;
  bool gradients_;
  std::vector<float> scratch_;  // one layer's gradients, allocated once, before training
  std::size_t step_ = 0;
  std::size_t micro_batch_ = 0;
};

// Throws NonFiniteError naming the first layer whose parameters are not all finite (`step`: the
// step after which they were read), so that no checkpoint is written from them.
void check_finite_parameters(const Chain& chain, const std::vector<float>& params, std::size_t step);

}  // namespace egc
