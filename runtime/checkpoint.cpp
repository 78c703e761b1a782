// Checkpoint files: fingerprint, writing, and reading with every check before a value is used.
#include "runtime/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "planner/errors.h"
#include "planner/units.h"
#include "runtime/checksum.h"
#include "runtime/random.h"
#include "runtime/safetensors.h"
#include "runtime/safetensors_reader.h"

namespace egc {
namespace {

constexpr const char* kChecksumKey = "egc.checksum";

std::string exact(float value) {  // round-trips a float
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
  return buffer;
}

// The optimizer tensors a model's optimizer keeps, by name, with their TrainingState members.
template <class State>
std::vector<std::pair<std::string, decltype(&std::declval<State&>().velocity)>> optimizer_tensors(
    const ModelSpec& model, State& state) {
  if (model.optimizer == Optimizer::adam) return {{"egc.optimizer.adam_m", &state.adam_m}, {"egc.optimizer.adam_v", &state.adam_v}};
  if (model.sgd_momentum) return {{"egc.optimizer.velocity", &state.velocity}};
  return {};
}

// Over the data section, tensor by tensor in file order, and every metadata entry but the
// checksum itself: a changed byte anywhere that matters changes it.
std::string checksum_of(const std::vector<std::pair<const void*, std::size_t>>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  Fnv1a64 hash;
  for (const auto& [data, bytes] : tensors) hash.add(data, bytes);
  for (const auto& [key, value] : metadata)
    if (key != kChecksumKey) hash.add(key).add(value);
  return hash.text();
}

std::string checksum_of(const SafetensorsFile& file) {
  std::vector<const SafetensorsEntry*> entries;
  for (const auto& item : file.tensors) entries.push_back(&item.second);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  std::vector<std::pair<const void*, std::size_t>> tensors;
  for (const SafetensorsEntry* entry : entries) tensors.push_back({file.data(*entry), entry->end - entry->begin});
  return checksum_of(tensors, file.metadata);
}

const std::string& metadata_of(const SafetensorsFile& file, const std::string& key) {
  const auto found = file.metadata.find(key);
  if (found == file.metadata.end()) throw UsageError(file.where + "is corrupt: its metadata has no '" + key + "'");
  return found->second;
}

std::size_t whole_metadata(const SafetensorsFile& file, const std::string& key) {
  return parse_whole(metadata_of(file, key), file.where + "is corrupt: '" + key + "'", 0, ~std::size_t{0} >> 1);
}

void check_fingerprint(const SafetensorsFile& file, const CheckpointFingerprint& expected) {
  const std::pair<const char*, const std::string*> fields[] = {{"model", &expected.model},
                                                              {"data", &expected.data},
                                                              {"optimizer", &expected.optimizer},
                                                              {"training", &expected.training}};
  for (const auto& [name, value] : fields) {
    const std::string& written = metadata_of(file, std::string("egc.") + name);
    if (written != *value)
      throw UsageError(file.where + "was written for another " + name + " (" + written + "); this run has " + *value);
  }
}

std::vector<float> floats_of(const SafetensorsFile& file, const std::string& name, std::size_t count) {
  const SafetensorsEntry& entry = file.tensor(name, "F32", {count});
  std::vector<float> values(count);
  std::memcpy(values.data(), file.data(entry), count * sizeof(float));
  return values;
}

// The order must hold exactly the training rows, and the state's counters must fit it.
void read_position(const SafetensorsFile& file, const ResumeTarget& target, TrainingState& state) {
  const std::size_t rows = target.train_rows.size();
  const SafetensorsEntry& entry = file.tensor("egc.data.order", "U32", {rows});
  state.order.resize(rows);
  std::memcpy(state.order.data(), file.data(entry), rows * sizeof(std::uint32_t));
  std::vector<std::uint32_t> sorted = state.order, expected = target.train_rows;
  std::sort(sorted.begin(), sorted.end());
  std::sort(expected.begin(), expected.end());
  if (sorted != expected) throw UsageError(file.where + "is corrupt: 'egc.data.order' is not an order of the training rows");
  state.step = whole_metadata(file, "egc.step");
  state.epoch = whole_metadata(file, "egc.epoch");
  state.cursor = whole_metadata(file, "egc.cursor");
  if (state.cursor > rows)
    throw UsageError(file.where + "is corrupt: 'egc.cursor' " + std::to_string(state.cursor) + " is past the " +
                     std::to_string(rows) + " training rows");
  state.shuffle_state = metadata_of(file, "egc.shuffle_state");
  if (!Random(0).set_state(state.shuffle_state))
    throw UsageError(file.where + "is corrupt: 'egc.shuffle_state' is not a random engine's state");
}

}  // namespace

CheckpointFingerprint checkpoint_fingerprint(const ModelSpec& model, const Dataset& data,
                                             const OptimizerSettings& optimizer, std::size_t accumulate) {
  CheckpointFingerprint fingerprint;
  fingerprint.model = "in " + std::to_string(model.in_features) + ", out " + std::to_string(model.out_features) +
                      ", hidden [";
  for (std::size_t i = 0; i < model.hidden_widths.size(); ++i)
    fingerprint.model += (i ? ", " : "") + std::to_string(model.hidden_widths[i]);
  fingerprint.model += "], " + std::string(to_string(model.activation));
  // What else changes the step: the blocks, dropout (its masks), the loss. Plain MSE models keep
  // the text they had before these existed.
  if (model.block == BlockKind::residual)
    fingerprint.model += ", residual blocks (" + std::string(to_string(model.norm)) + ", expand " +
                         std::to_string(model.expand) + ")";
  if (model.dropout > 0) {
    char dropout[32];
    std::snprintf(dropout, sizeof dropout, "%.17g", model.dropout);  // round-trips a double
    fingerprint.model += ", dropout " + std::string(dropout);
  }
  if (model.loss != LossKind::mse) fingerprint.model += ", " + std::string(to_string(model.loss));
  Fnv1a64 hash;
  hash.add(data.inputs.data(), data.inputs.size() * sizeof(float));
  hash.add(data.targets.data(), data.targets.size() * sizeof(float));
  hash.add(data.train_rows.data(), data.train_rows.size() * sizeof(std::uint32_t));
  hash.add(data.eval_rows.data(), data.eval_rows.size() * sizeof(std::uint32_t));
  fingerprint.data = std::to_string(data.rows()) + " rows (" + std::to_string(data.train_rows.size()) + " training), " +
                     hash.text();
  if (model.optimizer == Optimizer::adam)
    fingerprint.optimizer = "adam lr " + exact(optimizer.adam.lr) + " beta1 " + exact(optimizer.adam.beta1) + " beta2 " +
                            exact(optimizer.adam.beta2) + " eps " + exact(optimizer.adam.eps);
  else
    fingerprint.optimizer = "sgd lr " + exact(optimizer.sgd.lr) + " momentum " +
                            exact(model.sgd_momentum ? optimizer.sgd.momentum : 0.0f);
  fingerprint.training = "batch " + std::to_string(model.batch) + ", accumulate " + std::to_string(accumulate);
  return fingerprint;
}

void write_checkpoint(const std::string& path, const Chain& chain, const TrainingState& state,
                      const CheckpointFingerprint& fingerprint, const std::string& plan_name) {
  std::vector<TensorView> tensors = parameter_views(chain, state.params);
  const std::pair<const char*, const std::vector<float>*> optimizer[] = {
      {"egc.optimizer.velocity", &state.velocity}, {"egc.optimizer.adam_m", &state.adam_m}, {"egc.optimizer.adam_v", &state.adam_v}};
  for (const auto& [name, values] : optimizer)
    if (!values->empty()) tensors.push_back({name, "F32", {values->size()}, values->data(), values->size() * sizeof(float)});
  tensors.push_back({"egc.data.order", "U32", {state.order.size()}, state.order.data(), state.order.size() * sizeof(std::uint32_t)});
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"producer", "egc"},  // as write_safetensors writes them; they are checksummed too
      {"egc.checkpoint", kCheckpointVersion}, {"egc.model", fingerprint.model}, {"egc.data", fingerprint.data},
      {"egc.optimizer", fingerprint.optimizer}, {"egc.training", fingerprint.training},
      {"egc.step", std::to_string(state.step)}, {"egc.epoch", std::to_string(state.epoch)},
      {"egc.cursor", std::to_string(state.cursor)}, {"egc.shuffle_state", state.shuffle_state}, {"egc.plan", plan_name}};
  std::vector<std::pair<const void*, std::size_t>> contents;
  for (const TensorView& tensor : tensors) contents.push_back({tensor.data, tensor.bytes});
  metadata[kChecksumKey] = checksum_of(contents, metadata);
  write_safetensors(path, "--checkpoint", tensors, metadata);
}

TrainingState parse_checkpoint(std::string bytes, const std::string& where, const ResumeTarget& target) {
  const SafetensorsFile file = parse_safetensors(std::move(bytes), where);
  const auto version = file.metadata.find("egc.checkpoint");
  if (version == file.metadata.end())
    throw UsageError(where + "is not an egc checkpoint (no 'egc.checkpoint' in its metadata; parameters alone load with --load)");
  if (version->second != kCheckpointVersion)
    throw UsageError(where + "is a checkpoint of version " + version->second + "; this egc reads version " + kCheckpointVersion);
  check_fingerprint(file, target.fingerprint);
  const std::string& checksum = metadata_of(file, kChecksumKey);
  const std::string actual = checksum_of(file);
  bool verify = true;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  verify = false;  // lets the fuzzer's mutations past the checksum to the checks below
#endif
  if (verify && checksum != actual)
    throw UsageError(where + "is corrupt: its contents hash to " + actual + ", its checksum says " + checksum);
  TrainingState state;
  state.params = parameters_from(file, target.chain);
  for (auto [name, values] : optimizer_tensors(target.model, state)) *values = floats_of(file, name, target.chain.param_count);
  read_position(file, target, state);
  const std::size_t known = parameter_views(target.chain, state.params).size() + optimizer_tensors(target.model, state).size() + 1;
  if (file.tensors.size() != known)
    throw UsageError(where + "is corrupt: it holds " + std::to_string(file.tensors.size()) + " tensors, a checkpoint of this run " +
                     std::to_string(known));
  return state;
}

TrainingState read_checkpoint(const std::string& path, const ResumeTarget& target) {
  return parse_checkpoint(read_file_bytes(path, "--resume"), "--resume: '" + path + "' ", target);
}

}  // namespace egc
