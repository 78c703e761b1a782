// Dataset: samples held on the host until they are copied into the arena once: the synthetic
// task (y = 2x + 3 + noise, or those values binned into classes) or a CSV file, split into
// training and evaluation rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "planner/model_spec.h"

namespace egc {

struct Dataset {
  std::size_t in = 0;
  std::size_t out = 0;          // target columns per row
  std::size_t classes = 0;      // classification: out = 1 and every target is a class in [0, classes)
  std::vector<float> inputs;   // rows x in
  std::vector<float> targets;  // rows x out (class indices as floats: exact below 2^24)
  std::vector<std::uint32_t> train_rows;
  std::vector<std::uint32_t> eval_rows;
  std::string source;  // "synthetic y = 2x + 3 + N(0, 0.1^2)", "data.csv"
  std::size_t rows() const { return in == 0 ? 0 : inputs.size() / in; }
};

// `samples` rows; x uniform, then min-max normalised to exactly [-1, 1] per column;
// target column j is 2 x_(j mod in) + 3 + noise * N(0, 1). With in = out = 1: y = 2x + 3 + noise.
Dataset make_synthetic(std::size_t samples, std::size_t in, std::size_t out, double noise, std::uint64_t seed);
// The same task with `classes` classes: the single target t = 2 x_0 + 3 + noise cut into equal
// bins over [1, 5] (the range of t without noise), the outer bins open-ended:
// class = clamp(floor((t - 1) / 4 * classes), 0, classes - 1).
Dataset make_synthetic_classes(std::size_t samples, std::size_t in, std::size_t classes, double noise,
                               std::uint64_t seed);
// The synthetic task `model` trains on: regression targets for mse, classes for cross-entropy.
Dataset make_synthetic_for(const ModelSpec& model, std::size_t samples, double noise, std::uint64_t seed);

// Numeric columns: the first `in` inputs, the next `out` targets, the rest ignored. An optional
// header line (no field numeric) is skipped; empty lines are skipped. Any malformed row throws
// UsageError("--data: FILE line N: ...").
// With classes > 0 there is one target column, and every target must be a whole number in
// [0, classes): anything else is a UsageError naming the line.
Dataset load_csv(const std::string& path, std::size_t in, std::size_t out, std::size_t classes = 0);
// load_csv of text already open (`path` names it in messages).
Dataset parse_csv(std::istream& text, const std::string& path, std::size_t in, std::size_t out,
                  std::size_t classes = 0);
// load_csv with the columns `model` reads: in_features inputs, then its target columns.
Dataset load_csv_for(const std::string& path, const ModelSpec& model);

// A seeded random split: round(fraction * rows) evaluation rows, the rest for training.
// Throws UsageError naming --eval-split when the fraction is outside [0, 1) or leaves no
// training rows.
void split_dataset(Dataset& data, double eval_fraction, std::uint64_t seed);

}  // namespace egc
