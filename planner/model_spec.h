// ModelSpec: the MLP a user asks for (widths, activation, blocks, dropout, loss, batch, optimizer)
// and the StepContext the runtime adds (resident data, backend scratch) before anything is planned.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "planner/enum_names.h"

namespace egc {

struct DeviceProfile;  // planner/device_profile.h

enum class Activation { identity, relu, gelu, tanh };
inline constexpr EnumName<Activation> kActivationNames[] = {
    {Activation::identity, "identity", false}, {Activation::relu, "relu"}, {Activation::gelu, "gelu"},
    {Activation::tanh, "tanh"}};
static_assert(names_in_order(kActivationNames) && count_of(kActivationNames) == 1 + int(Activation::tanh));

enum class Optimizer { sgd, adam };
inline constexpr EnumName<Optimizer> kOptimizerNames[] = {{Optimizer::sgd, "sgd"}, {Optimizer::adam, "adam"}};
static_assert(names_in_order(kOptimizerNames) && count_of(kOptimizerNames) == 1 + int(Optimizer::adam));

// The training objective: mean squared error on `out` real targets, or softmax cross-entropy on
// one integer class in [0, classes) per row (out_features = classes logits).
enum class LossKind { mse, cross_entropy };
inline constexpr EnumName<LossKind> kLossNames[] = {{LossKind::mse, "mse"}, {LossKind::cross_entropy, "cross-entropy"}};
static_assert(names_in_order(kLossNames) && count_of(kLossNames) == 1 + int(LossKind::cross_entropy));

// The hidden units: plain Linear + activation layers, or pre-LayerNorm residual feed-forward
// blocks x + Linear2(act(Linear1(norm(x)))) between an input projection and an output head.
enum class BlockKind { plain, residual };
inline constexpr EnumName<BlockKind> kBlockNames[] = {{BlockKind::plain, "plain"}, {BlockKind::residual, "residual"}};
static_assert(names_in_order(kBlockNames) && count_of(kBlockNames) == 1 + int(BlockKind::residual));

enum class Norm { none, layernorm };
inline constexpr EnumName<Norm> kNormNames[] = {{Norm::none, "none"}, {Norm::layernorm, "layernorm"}};
static_assert(names_in_order(kNormNames) && count_of(kNormNames) == 1 + int(Norm::layernorm));

struct ModelSpec {
  std::size_t in_features = 1;
  std::size_t out_features = 1;
  std::vector<std::size_t> hidden_widths{64, 64, 64, 64, 64, 64, 64, 64};
  Activation activation = Activation::relu;
  std::size_t batch = 128;
  Optimizer optimizer = Optimizer::sgd;
  bool sgd_momentum = true;  // SGD keeps a velocity buffer only when momentum != 0
  LossKind loss = LossKind::mse;  // cross_entropy: out_features is the number of classes
  BlockKind block = BlockKind::plain;  // residual: hidden_widths are the blocks' (equal) widths
  Norm norm = Norm::layernorm;         // residual blocks only
  std::size_t expand = 4;              // residual blocks: inner width = expand x width
  double dropout = 0;                  // after each hidden activation (and inside each block), in [0, 1)
  // Columns of target per data row: out_features for mse, one class index for cross_entropy.
  std::size_t target_columns() const { return loss == LossKind::cross_entropy ? 1 : out_features; }
};

// Where a memory limit for the arena comes from: --max-memory (used as given) or the device's
// free memory (the planner keeps a margin below it; see planner/auto_plan.h).
enum class MemoryLimitSource { none, user, device };

// What a budget plan (budget:SIZE, auto) minimises within its byte budget (--objective): the
// predicted step time (the recomputes priced by the device profile), or the recomputed FLOPs.
enum class Objective { time, flops };
inline constexpr EnumName<Objective> kObjectiveNames[] = {{Objective::time, "time"}, {Objective::flops, "flops"}};
static_assert(names_in_order(kObjectiveNames) && count_of(kObjectiveNames) == 1 + int(Objective::flops));

// What the runtime must also place in the arena for one training step, and how much it may take.
struct StepContext {
  std::size_t dataset_rows = 0;     // samples resident in the arena (training + evaluation)
  std::size_t workspace_bytes = 0;  // backend scratch: cuBLAS workspace, CUB temporary storage
  std::size_t memory_limit_bytes = 0;  // the arena's limit (--plan auto plans within it)
  MemoryLimitSource memory_limit_source = MemoryLimitSource::none;
  // One update of all parameters after the backward pass, from one gradient buffer that lives
  // through the whole step (needed by gradient accumulation, --accumulate K > 1). Otherwise each
  // layer is updated right after its backward and its gradients die there, as with PyTorch's
  // optimizer-in-backward hooks: the step never holds the gradients of the whole model.
  bool single_update = false;
  // Micro-batches per optimizer step (--accumulate): the ops before the final update run this
  // many times. Only the predicted step time depends on it.
  std::size_t micro_batches = 1;
  // What the predicted times are computed from (planner/device_profile.h); null: the CPU
  // reference backend's default profile.
  std::shared_ptr<const DeviceProfile> profile;
  Objective objective = Objective::time;  // what budget and auto plans minimise
  // The host arena's cap for offloaded activations (--host-memory); 0: offloading off. With it,
  // budget:SIZE plans keep, recompute or offload per layer (planner/offload_plan.h).
  std::size_t host_memory_bytes = 0;
};

constexpr const char* to_string(Activation activation) { return name_of(kActivationNames, activation); }
constexpr const char* to_string(Optimizer optimizer) { return name_of(kOptimizerNames, optimizer); }
constexpr const char* to_string(LossKind loss) { return name_of(kLossNames, loss); }
constexpr const char* to_string(BlockKind block) { return name_of(kBlockNames, block); }
constexpr const char* to_string(Norm norm) { return name_of(kNormNames, norm); }
constexpr const char* to_string(Objective objective) { return name_of(kObjectiveNames, objective); }

// Parsers for the command line; each throws UsageError naming `flag` and the accepted values.
Activation parse_activation(std::string_view text, std::string_view flag = "--activation");
Optimizer parse_optimizer(std::string_view text, std::string_view flag = "--optimizer");
LossKind parse_loss(std::string_view text, std::string_view flag = "--loss");
BlockKind parse_block(std::string_view text, std::string_view flag = "--block");
Norm parse_norm(std::string_view text, std::string_view flag = "--norm");
Objective parse_objective(std::string_view text, std::string_view flag = "--objective");
std::vector<std::size_t> parse_widths(std::string_view text, std::string_view flag = "--widths");

// Throws UsageError when a size is zero, a setting is outside its range (dropout in [0, 1),
// classes >= 2, residual blocks of one width) or a byte count of the step would overflow 64 bits.
void validate(const ModelSpec& spec);

}  // namespace egc
