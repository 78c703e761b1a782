// libFuzzer target: the safetensors readers on any bytes — --load's (parameters of a fixed
// small chain) and --resume's (a checkpoint of a fixed small run: the seeds' run, so that
// mutations reach every check). A bad file must be a UsageError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "planner/chain.h"
#include "planner/errors.h"
#include "runtime/checkpoint.h"
#include "runtime/safetensors.h"

namespace {

// egc_train --layers 1 --width 2 --samples 20 --batch 4 (sgd, lr 0.01, momentum 0.9), as the
// seeds in corpus/fuzz_safetensors were written.
struct Run {
  egc::ModelSpec model;
  egc::Chain chain;
  egc::Dataset data;
  egc::OptimizerSettings optimizer;
  Run() {
    model.hidden_widths = {2};
    model.batch = 4;
    chain = egc::build_chain(model);
    data = egc::make_synthetic(20, 1, 1, 0.1, 0);
    egc::split_dataset(data, 0.1, 0);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Run run;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    egc::parameters_from(egc::parse_safetensors(bytes, "--load: 'fuzz' "), run.chain);
  } catch (const egc::UsageError&) {
  }
  try {
    const egc::ResumeTarget target{run.chain, run.model, egc::checkpoint_fingerprint(run.model, run.data, run.optimizer, 1),
                                   run.data.train_rows};
    egc::parse_checkpoint(bytes, "--resume: 'fuzz' ", target);
  } catch (const egc::UsageError&) {
  }
  return 0;
}
