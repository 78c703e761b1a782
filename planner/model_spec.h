// ModelSpec: the MLP a user asks for (widths, activation, batch, optimizer) and the
// StepContext the runtime adds (resident data, backend scratch) before anything is planned.
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

// What a layer's backward pass needs besides its input: the derivative of relu and tanh is
// computed from the layer's output, that of GELU from its pre-activation, identity needs none.
enum class SavedForBackward { nothing, output, pre_activation };

struct ModelSpec {
  std::size_t in_features = 1;
  std::size_t out_features = 1;
  std::vector<std::size_t> hidden_widths{64, 64, 64, 64, 64, 64, 64, 64};
  Activation activation = Activation::relu;
  std::size_t batch = 128;
  Optimizer optimizer = Optimizer::sgd;
  bool sgd_momentum = true;  // SGD keeps a velocity buffer only when momentum != 0
};

// Where a memory limit for the arena comes from: --max-memory (used as given) or the device's
// free memory (the planner keeps a margin below it; see planner/auto_plan.h).
enum class MemoryLimitSource { none, user, device };

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
};

constexpr const char* to_string(Activation activation) { return name_of(kActivationNames, activation); }
constexpr const char* to_string(Optimizer optimizer) { return name_of(kOptimizerNames, optimizer); }
SavedForBackward saved_for_backward(Activation activation);

// Parsers for the command line; each throws UsageError naming `flag` and the accepted values.
Activation parse_activation(std::string_view text, std::string_view flag = "--activation");
Optimizer parse_optimizer(std::string_view text, std::string_view flag = "--optimizer");
std::vector<std::size_t> parse_widths(std::string_view text, std::string_view flag = "--widths");

// Throws UsageError when a size is zero or a byte count of the step would overflow 64 bits.
void validate(const ModelSpec& spec);

}  // namespace egc
