// Names, parsers and validation for ModelSpec.
#include "planner/model_spec.h"

#include "planner/errors.h"
#include "planner/units.h"

namespace egc {

Activation parse_activation(std::string_view text, std::string_view flag) {
  return parse_name(kActivationNames, text, flag, "activation");
}

Optimizer parse_optimizer(std::string_view text, std::string_view flag) {
  return parse_name(kOptimizerNames, text, flag, "optimizer");
}

LossKind parse_loss(std::string_view text, std::string_view flag) { return parse_name(kLossNames, text, flag, "loss"); }

BlockKind parse_block(std::string_view text, std::string_view flag) {
  return parse_name(kBlockNames, text, flag, "block");
}

Norm parse_norm(std::string_view text, std::string_view flag) { return parse_name(kNormNames, text, flag, "norm"); }

Objective parse_objective(std::string_view text, std::string_view flag) {
  return parse_name(kObjectiveNames, text, flag, "objective");
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
  if (spec.loss == LossKind::cross_entropy && spec.out_features < 2)
    throw UsageError("--classes: " + std::to_string(spec.out_features) +
                     " is not accepted (cross-entropy needs at least 2 classes)");
  if (!(spec.dropout >= 0.0 && spec.dropout < 1.0))
    throw UsageError("--dropout: " + std::to_string(spec.dropout) + " is not accepted (a probability in [0, 1) is)");
  // Every byte count the planner derives is a product of these; check the largest ones once.
  std::size_t widest = std::max(spec.in_features, spec.out_features);
  for (std::size_t width : spec.hidden_widths) widest = std::max(widest, width);
  if (spec.block == BlockKind::residual) {
    if (spec.expand == 0) throw UsageError("--expand: 0 is not accepted (the inner width is expand x width, expand >= 1)");
    if (spec.hidden_widths.empty()) throw UsageError("--layers: a residual model needs at least one block");
    for (std::size_t width : spec.hidden_widths)
      if (width != spec.hidden_widths.front())
        throw UsageError("--widths: residual blocks add their input to their output, so they share one width "
                         "(give --layers and --width)");
    widest = std::max(widest, checked_mul(spec.hidden_widths.front(), spec.expand, "--width x --expand"));
  }
  // Dropout draws one 32-bit number per element from a Philox counter whose element field has
  // 32 bits and counts groups of four (kernels/philox.h): a unit's output must stay below 2^34.
  if (spec.dropout > 0 && checked_mul(spec.batch, widest, "--batch x width") >= (std::size_t{1} << 34))
    throw UsageError("--dropout: --batch x width must stay below 2^34 elements per layer (the dropout counter's range)");
  checked_mul(checked_mul(checked_mul(spec.batch, widest, "--batch x width"), 4, "activation bytes"),
              spec.hidden_widths.size() + 2, "activation bytes of all layers");
  checked_mul(checked_mul(widest, widest, "width x width"), 4 * 4, "parameter bytes");
}

}  // namespace egc
