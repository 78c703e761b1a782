// What each unit of a chain holds in the arena, in footprints (256-byte rounded), as the
// ScheduleBuilder's buffers count it: the figures the budget dynamic program and Chen's greedy
// planner reason with, so that their memory is the finished plan's to the byte.
#pragma once

#include <cstddef>

#include "planner/chain.h"

namespace egc {

struct UnitFootprints {
  std::size_t output = 0;  // the unit's output, and the gradient of it (same size)
  // What its backward needs of the unit besides its input: 0 for none, `output` when that is the
  // output itself (relu, tanh), else the separate tape a keeping forward writes (GELU's
  // pre-activation; a block's inner pre-activation plus LayerNorm statistics).
  std::size_t tape = 0;
  bool tape_is_output = false;
  std::size_t forward_scratch = 0;   // alive during its forward only (a block's inner activation)
  std::size_t backward_scratch = 0;  // alive during its backward only (a block's inner gradient, norm gradient)
  // A block adds its input gradient to its output gradient's buffer; a linear unit makes a new
  // one as large as its input (none at unit 0, whose input is the data).
  bool gradient_in_place = false;
  // Its parameters' gradients: with per-layer updates a buffer born at its backward and gone
  // after its update (with a single update they live in the step's persistent buffer instead).
  std::size_t parameter_gradients = 0;
};

UnitFootprints unit_footprints(const Layer& layer);

}  // namespace egc
