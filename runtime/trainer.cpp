// Trainer: batches, steps, evaluation.
#include "runtime/trainer.h"

#include <cmath>
#include <cstring>
#include <string>

#include "planner/errors.h"
#include "planner/parameter_tensors.h"

namespace egc {

Trainer::Trainer(const Plan& plan, Backend& backend, const Dataset& data, const TrainSettings& settings)
    : plan_(plan),
      backend_(backend),
      data_(data),
      settings_(settings),
      memory_(make_step_memory(settings.alloc, plan, backend)),
      executor_(plan, backend, *memory_, settings.optimizer),
      shuffler_(derive_seed(settings.seed, 4)),
      order_(data.train_rows) {
  if (data.in != plan.chain.in_features || data.out != plan.chain.target_columns)
    throw UsageError("--data: the data has " + std::to_string(data.in) + " inputs and " + std::to_string(data.out) +
                     " targets per row, the model " + std::to_string(plan.chain.in_features) + " and " +
                     std::to_string(plan.chain.target_columns));
  if (plan.chain.loss == LossKind::cross_entropy && data.classes != plan.chain.out_features)
    throw UsageError("--classes: the model has " + std::to_string(plan.chain.out_features) +
                     " classes, the data's labels are checked against " + std::to_string(data.classes));
  if (data.train_rows.size() < plan.chain.batch)
    throw UsageError("--batch: " + std::to_string(plan.chain.batch) + " is larger than the " +
                     std::to_string(data.train_rows.size()) + " training rows");
  if (data.rows() != plan.context.dataset_rows)
    throw std::logic_error("trainer: the plan was made for a dataset of another size");
  if (settings.accumulate > 1 && !plan.context.single_update)
    throw std::logic_error("trainer: --accumulate needs a plan with one final update (StepContext::single_update)");
  const StepBuffers& s = plan.step;
  backend.copy_to_device(memory_->pointer(s.dataset_inputs), data.inputs.data(), data.inputs.size() * sizeof(float));
  backend.copy_to_device(memory_->pointer(s.dataset_targets), data.targets.data(), data.targets.size() * sizeof(float));
  // Optimizer state starts at zero, as in PyTorch.
  const std::vector<float> zeros(plan.chain.param_count, 0.0f);
  for (BufferId state : {s.velocity, s.adam_m, s.adam_v})
    if (state != kNoBuffer) backend.copy_to_device(memory_->pointer(state), zeros.data(), zeros.size() * sizeof(float));
  shuffler_.shuffle(order_.data(), order_.size());
}

void Trainer::initialize_parameters() {
  std::vector<float> values(plan_.chain.param_count);
  Random random(derive_seed(settings_.seed, 3));
  for (const ParameterTensor& tensor : parameter_tensors(plan_.chain)) {  // in the buffer's order
    const double bound = tensor.fan_in ? 1.0 / std::sqrt(static_cast<double>(tensor.fan_in)) : 0.0;
    for (std::size_t e = 0; e < tensor.count; ++e)
      values[tensor.offset + e] = tensor.init == TensorInit::uniform ? static_cast<float>(random.uniform(-bound, bound))
                                  : tensor.init == TensorInit::ones  ? 1.0f
                                                                     : 0.0f;
  }
  set_parameters(values);
}

void Trainer::set_parameters(const std::vector<float>& values) {
  if (values.size() != plan_.chain.param_count) throw std::logic_error("set_parameters: wrong parameter count");
  backend_.copy_to_device(memory_->pointer(plan_.step.params), values.data(), values.size() * sizeof(float));
}

std::vector<float> Trainer::parameters() {
  std::vector<float> values(plan_.chain.param_count);
  backend_.copy_to_host(values.data(), memory_->pointer(plan_.step.params), values.size() * sizeof(float));
  return values;
}

std::vector<float> Trainer::gradients() {
  if (plan_.step.grads == kNoBuffer)
    throw std::logic_error("Trainer::gradients: the plan updates each layer in its backward and keeps no gradients");
  std::vector<float> values(plan_.chain.param_count);
  backend_.copy_to_host(values.data(), memory_->pointer(plan_.step.grads), values.size() * sizeof(float));
  return values;
}

void Trainer::load_batch(const std::uint32_t* rows, std::size_t count) {
  const StepBuffers& s = plan_.step;
  backend_.copy_to_device(memory_->pointer(s.batch_indices), rows, count * sizeof(std::uint32_t));
  const auto* indices = static_cast<const std::uint32_t*>(memory_->pointer(s.batch_indices));
  backend_.gather_rows(memory_->floats(s.dataset_inputs), indices, memory_->floats(s.batch_inputs), count, data_.in);
  backend_.gather_rows(memory_->floats(s.dataset_targets), indices, memory_->floats(s.batch_targets), count,
                       data_.out);
}

const std::uint32_t* Trainer::next_training_batch() {
  if (cursor_ + plan_.chain.batch > order_.size()) {  // the incomplete last batch of an epoch is dropped
    shuffler_.shuffle(order_.data(), order_.size());
    cursor_ = 0;
    ++epoch_;
  }
  const std::uint32_t* rows = order_.data() + cursor_;
  cursor_ += plan_.chain.batch;
  return rows;
}

float Trainer::read_loss(std::uint32_t* correct) {
  float values[2] = {0, 0};  // cross-entropy: the loss, then the correct count as a uint32
  const bool classes = plan_.chain.loss == LossKind::cross_entropy;
  backend_.copy_to_host(values, memory_->pointer(plan_.step.loss), (classes ? 2 : 1) * sizeof(float));
  if (correct) *correct = 0;
  if (correct && classes) std::memcpy(correct, &values[1], sizeof *correct);
  return values[0];
}

float Trainer::train_step() {
  double loss_sum = 0;
  std::size_t correct_sum = 0;
  const float scale = 1.0f / static_cast<float>(settings_.accumulate);
  for (std::size_t micro = 0; micro < settings_.accumulate; ++micro) {
    const std::uint32_t* rows = next_training_batch();
    if (batch_log_) batch_log_->insert(batch_log_->end(), rows, rows + plan_.chain.batch);
    load_batch(rows, plan_.chain.batch);
    // Dropout masks: seed stream 5 of --seed (1 data, 2 split, 3 parameters, 4 shuffling).
    executor_.run_micro_batch(MicroBatch{plan_.chain.batch, micro > 0, scale, micro, derive_seed(settings_.seed, 5)},
                              steps_done_ + 1);
    std::uint32_t correct = 0;
    loss_sum += read_loss(&correct);
    correct_sum += correct;
  }
  if (plan_.chain.loss == LossKind::cross_entropy)
    last_accuracy_ = static_cast<float>(static_cast<double>(correct_sum) /
                                        static_cast<double>(plan_.chain.batch * settings_.accumulate));
  executor_.run_update(++steps_done_);
  return static_cast<float>(loss_sum / static_cast<double>(settings_.accumulate));
}

std::optional<Evaluation> Trainer::evaluate(bool keep_predictions) {
  if (data_.eval_rows.empty()) return std::nullopt;
  Evaluation result;
  result.rows = data_.eval_rows.size();
  const std::size_t out = plan_.chain.out_features;
  if (keep_predictions) result.predictions.resize(result.rows * out);
  const BufferId prediction = plan_.ops[plan_.loss_op()].input;
  std::size_t done = 0;
  double loss_sum = 0;  // over rows (and outputs, for MSE)
  std::size_t correct_sum = 0;
  const bool classes = plan_.chain.loss == LossKind::cross_entropy;
  const std::size_t terms_per_row = classes ? 1 : out;  // what the loss averages over
  const Executor::OpHook previous = executor_.hook();
  if (keep_predictions) {
    executor_.set_hook([&](std::size_t op, bool after) {
      if (previous) previous(op, after);
      if (after && op == plan_.loss_op())
        backend_.copy_to_host(result.predictions.data() + done * out, memory_->pointer(prediction),
                              std::min(plan_.chain.batch, result.rows - done) * out * sizeof(float));
    });
  }
  while (done < result.rows) {
    const std::size_t count = std::min(plan_.chain.batch, result.rows - done);
    load_batch(data_.eval_rows.data() + done, count);
    executor_.run_forward_and_loss(count);
    std::uint32_t correct = 0;
    loss_sum += static_cast<double>(read_loss(&correct)) * static_cast<double>(count * terms_per_row);
    correct_sum += correct;
    done += count;
  }
  executor_.set_hook(previous);
  result.loss = loss_sum / static_cast<double>(result.rows * terms_per_row);
  if (classes) result.accuracy = static_cast<double>(correct_sum) / static_cast<double>(result.rows);
  return result;
}

}  // namespace egc
