// The GPU's own measurements for gpu_step_bench (CUDA builds, --device cuda): step times from
// CUDA events, the split of a step over op categories (TimedBackend), and the bias-gradient
// kernel against CUB's BlockReduce. The driver (gpu_step_bench.cpp) runs on any device.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "planner/plan.h"
#include "runtime/backend.h"
#include "runtime/dataset.h"

namespace egc::bench {

// `steps` steps after `warmup`, each bracketed by CUDA events: median, min, max, wall time.
nlohmann::json time_steps_with_events(Backend& backend, const Plan& plan, const Dataset& data, std::size_t warmup,
                                      std::size_t steps);
// Milliseconds per step by op category and the GEMM share, over `steps` steps after one.
nlohmann::json profile_steps(Backend& backend, const Plan& plan, const Dataset& data, std::size_t steps);
// The tiled two-stage column sum against one cub::BlockReduce block per column.
nlohmann::json compare_bias_gradient(Backend& backend, std::size_t rows, std::size_t cols);

}  // namespace egc::bench
