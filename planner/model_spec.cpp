// Names, parsers and validation for ModelSpec.
#include "planner/model_spec.h"

#include "planner/errors.h"
#include "planner/units.h"

namespace egc {

SavedForBackward saved_for_backward(Activation activation) {
  switch (activation) {
    case Activation::identity: return SavedForBackward::nothing;
    case Activation::gelu: return SavedForBackward::pre_activation;
    case Activation::relu:
    case Activation::tanh: return SavedForBackward::output;
  }
  return SavedForBackward::nothing;
}

Activation parse_activation(std::string_view text, std::string_view flag) {
  return parse_name(kActivationNames, text, flag, "activation");
}

Optimizer parse_optimizer(std::string_view text, std::string_view flag) {
  return parse_name(kOptimizerNames, text, flag, "optimizer");
}

std::vector<std::size_t> parse_widths(std::string_view text, std::string_view flag) {
  std::vector<std::size_t> widths;
  for (const std::string& item : split_commas(text)) widths.push_back(parse_positive(item, flag));
  return widths;
}

void validate(const ModelSpec& spec) {
  if (spec.in_features == 0) throw UsageError("--in: must be a positive whole number");
  if (spec.out_features == 0) throw UsageError("--out: must be a positive whole number");
  if (spec.batch == 0) throw UsageError("--batch: must be a positive whole number");
  for (std::size_t width : spec.hidden_widths)
    if (width == 0) throw UsageError("--width/--widths: every width must be a positive whole number");
  // Every byte count the planner derives is a product of these; check the largest ones once.
  std::size_t widest = std::max(spec.in_features, spec.out_features);
  for (std::size_t width : spec.hidden_widths) widest = std::max(widest, width);
  checked_mul(checked_mul(checked_mul(spec.batch, widest, "--batch x width"), 4, "activation bytes"),
              spec.hidden_widths.size() + 2, "activation bytes of all layers");
  checked_mul(checked_mul(widest, widest, "width x width"), 4 * 4, "parameter bytes");
}

}  // namespace egc
