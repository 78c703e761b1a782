// Checkpoints (--checkpoint, --resume): the whole TrainingState as one safetensors file, its
// parameters under --save's names (PyTorch reads them), the rest under "egc." names and in
// metadata, with a fingerprint of what must match to resume and a checksum of the contents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "planner/chain.h"
#include "planner/model_spec.h"
#include "runtime/dataset.h"
#include "runtime/executor.h"
#include "runtime/training_state.h"

namespace egc {

inline constexpr const char* kCheckpointVersion = "1";

// What must be the same for a checkpoint to continue a run, one line each so that a mismatch
// can name what differs. The plan is not among them: every plan computes the same step.
struct CheckpointFingerprint {
  std::string model;      // "in 1, out 1, hidden [64, 64], relu"
  std::string data;       // rows, the split and a hash of the values and the split
  std::string optimizer;  // "sgd lr 0.01 momentum 0.9", "adam lr 0.001 beta1 0.9 ..."
  std::string training;   // "batch 128, accumulate 1"
};

CheckpointFingerprint checkpoint_fingerprint(const ModelSpec& model, const Dataset& data,
                                             const OptimizerSettings& optimizer, std::size_t accumulate);

// Writes `state` to `path` atomically (temporary file, then rename): the previous checkpoint
// stays valid until the new one is complete. UsageError naming --checkpoint when it cannot.
void write_checkpoint(const std::string& path, const Chain& chain, const TrainingState& state,
                      const CheckpointFingerprint& fingerprint, const std::string& plan_name);

// What a resumed run must find in a checkpoint.
struct ResumeTarget {
  const Chain& chain;
  const ModelSpec& model;  // which optimizer tensors there are
  CheckpointFingerprint fingerprint;
  const std::vector<std::uint32_t>& train_rows;
};

// The state in a checkpoint file's bytes; UsageError starting with `where` ("--resume: 'FILE' ")
// for a file that is not a checkpoint, is truncated or corrupt (checksum, sizes, an order that is
// not a permutation of the training rows), or was written for another model, data, optimizer or
// batching (naming which, with both values).
TrainingState parse_checkpoint(std::string bytes, const std::string& where, const ResumeTarget& target);

// parse_checkpoint of the file at `path`; UsageError naming --resume when it cannot be read.
TrainingState read_checkpoint(const std::string& path, const ResumeTarget& target);

}  // namespace egc
