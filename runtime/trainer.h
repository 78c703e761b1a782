// Trainer: one model's parameters, data and step memory; runs optimizer steps (with gradient
// accumulation) and evaluation through the Executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "planner/plan.h"
#include "runtime/backend.h"
#include "runtime/dataset.h"
#include "runtime/executor.h"
#include "runtime/random.h"
#include "runtime/step_memory.h"
#include "runtime/training_state.h"

namespace egc {

struct TrainSettings {
  std::size_t accumulate = 1;  // micro-batches per optimizer step
  OptimizerSettings optimizer;
  std::uint64_t seed = 0;
  AllocMode alloc = AllocMode::arena;
};

struct Evaluation {
  double loss = 0;                 // the mean loss: MSE over rows and outputs, or cross-entropy over rows
  std::optional<double> accuracy;  // cross-entropy: the share of rows whose largest logit is the target
  std::size_t rows = 0;
  std::vector<float> predictions;  // rows x out (outputs or logits), in eval_rows order (when asked for)
};

class Trainer {
 public:
  // Allocates the step memory and copies the dataset into it. Throws UsageError when the
  // training split holds fewer rows than a batch.
  Trainer(const Plan& plan, Backend& backend, const Dataset& data, const TrainSettings& settings);

  // PyTorch's defaults: nn.Linear's weight and bias uniform in +-1/sqrt(fan_in), nn.LayerNorm's
  // ones and zeros (planner/parameter_tensors.h).
  void initialize_parameters();
  void set_parameters(const std::vector<float>& values);
  std::vector<float> parameters();
  std::vector<float> gradients();  // of the last step; plans with StepContext::single_update only

  // One optimizer step: `accumulate` micro-batches, then the update. Returns the mean of the
  // micro-batch losses.
  float train_step();
  // Cross-entropy: the share of the last step's samples classified correctly; nullopt for mse.
  std::optional<float> last_accuracy() const { return last_accuracy_; }
  // The loss (and accuracy) over the evaluation rows, in batches; nullopt without evaluation rows.
  std::optional<Evaluation> evaluate(bool keep_predictions);

  // The whole training state, read back from the step memory (runtime/training_state.cpp), and
  // written into it: a restored trainer continues exactly as the one it was read from would,
  // under any plan of the same model (the optimizer state has the flat parameter layout).
  TrainingState state();
  void restore(const TrainingState& state);

  // Appends the dataset rows of every training micro-batch to `log` (nullptr: stop).
  void record_batches(std::vector<std::uint32_t>* log) { batch_log_ = log; }

  std::size_t steps_done() const { return steps_done_; }
  std::size_t epochs_started() const { return epoch_; }
  Executor& executor() { return executor_; }
  StepMemory& memory() { return *memory_; }
  const StepMemory& memory() const { return *memory_; }

 private:
  void load_batch(const std::uint32_t* rows, std::size_t count);
  const std::uint32_t* next_training_batch();
  float read_loss(std::uint32_t* correct = nullptr);

  const Plan& plan_;
  Backend& backend_;
  const Dataset& data_;
  TrainSettings settings_;
  std::unique_ptr<StepMemory> memory_;
  Executor executor_;
  Random shuffler_;
  std::vector<std::uint32_t> order_;
  std::size_t cursor_ = 0;
  std::size_t epoch_ = 0;
  std::size_t steps_done_ = 0;
  std::optional<float> last_accuracy_;
  std::vector<std::uint32_t>* batch_log_ = nullptr;
};

}  // namespace egc
