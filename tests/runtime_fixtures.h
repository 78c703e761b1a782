// Helpers for runtime suites: small random models, and training a plan for a few steps.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/dataset.h"
#include "runtime/session.h"

namespace egc::testing {

struct TrainedRun {
  std::vector<float> parameters;
  std::vector<float> losses;
  MeasuredMemory measured;
  Plan plan;
};

// Trains `steps` optimizer steps of `model` under `plan_text` on a synthetic dataset; `reshape`,
// where given, turns that plan into the one trained (e.g. the same schedule with offloads).
inline TrainedRun train_for(Backend& backend, const ModelSpec& model, const std::string& plan_text,
                            const TrainSettings& settings, std::size_t steps, std::size_t samples = 512,
                            const std::function<Plan(const Plan&)>& reshape = {}) {
  Dataset data = make_synthetic_for(model, samples, 0.1, settings.seed);
  split_dataset(data, 0.125, settings.seed);
  RunOptions options;
  options.single_update = settings.accumulate > 1;
  TrainedRun run{{}, {}, {}, plan_run(model, data, backend, parse_plan(plan_text), options)};
  if (reshape) run.plan = reshape(run.plan);
  Session session(run.plan, backend, data, settings);
  MeasuredSteps measured = session.train(steps, steps);
  run.losses = measured.losses;
  run.measured = measured.memory;
  run.parameters = session.trainer().parameters();
  return run;
}

// A random small model: depth 1..5 layers in the chain, odd widths, odd batch.
inline ModelSpec random_model(std::mt19937_64& rng) {
  ModelSpec model;
  const std::size_t hidden = rng() % 5;
  model.hidden_widths.clear();
  for (std::size_t i = 0; i < hidden; ++i) model.hidden_widths.push_back(1 + 2 * (rng() % 12));
  model.in_features = 1 + rng() % 3;
  model.out_features = 1 + rng() % 3;
  model.batch = 1 + 2 * (rng() % 20);  // odd: never a multiple of 8
  model.activation = static_cast<Activation>(1 + rng() % 3);
  model.optimizer = rng() % 2 ? Optimizer::adam : Optimizer::sgd;
  return model;
}

}  // namespace egc::testing
