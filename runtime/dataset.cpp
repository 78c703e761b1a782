// Synthetic data, CSV loading, the train/eval split.
#include "runtime/dataset.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "planner/errors.h"
#include "planner/units.h"
#include "runtime/random.h"

namespace egc {

Dataset make_synthetic(std::size_t samples, std::size_t in, std::size_t out, double noise, std::uint64_t seed) {
  Dataset data;
  data.in = in;
  data.out = out;
  data.inputs.resize(samples * in);
  data.targets.resize(samples * out);
  Random random(derive_seed(seed, 1));
  std::vector<double> x(samples * in);
  for (double& value : x) value = random.uniform(0.0, 100.0);
  for (std::size_t column = 0; column < in; ++column) {
    double low = std::numeric_limits<double>::max(), high = std::numeric_limits<double>::lowest();
    for (std::size_t r = 0; r < samples; ++r) {
      low = std::min(low, x[r * in + column]);
      high = std::max(high, x[r * in + column]);
    }
    const double span = high > low ? high - low : 1.0;
    for (std::size_t r = 0; r < samples; ++r) x[r * in + column] = 2.0 * (x[r * in + column] - low) / span - 1.0;
  }
  for (std::size_t r = 0; r < samples; ++r) {
    for (std::size_t column = 0; column < in; ++column) data.inputs[r * in + column] = static_cast<float>(x[r * in + column]);
    for (std::size_t j = 0; j < out; ++j)
      data.targets[r * out + j] = static_cast<float>(2.0 * x[r * in + j % in] + 3.0 + noise * random.normal());
  }
  data.source = "synthetic: y = 2x + 3 + " + std::to_string(noise) + " N(0,1), " + std::to_string(samples) + " samples";
  return data;
}

Dataset make_synthetic_classes(std::size_t samples, std::size_t in, std::size_t classes, double noise,
                               std::uint64_t seed) {
  Dataset data = make_synthetic(samples, in, 1, noise, seed);
  for (float& target : data.targets) {
    const double bin = std::floor((static_cast<double>(target) - 1.0) / 4.0 * static_cast<double>(classes));
    target = static_cast<float>(std::clamp(bin, 0.0, static_cast<double>(classes - 1)));
  }
  data.classes = classes;
  data.source = "synthetic: classes of y = 2x + 3 + " + std::to_string(noise) + " N(0,1) in " + std::to_string(classes) +
                " bins over [1, 5], " + std::to_string(samples) + " samples";
  return data;
}

Dataset make_synthetic_for(const ModelSpec& model, std::size_t samples, double noise, std::uint64_t seed) {
  if (model.loss == LossKind::cross_entropy)
    return make_synthetic_classes(samples, model.in_features, model.out_features, noise, seed);
  return make_synthetic(samples, model.in_features, model.out_features, noise, seed);
}

Dataset load_csv_for(const std::string& path, const ModelSpec& model) {
  return load_csv(path, model.in_features, model.target_columns(),
                  model.loss == LossKind::cross_entropy ? model.out_features : 0);
}

namespace {

// The comma-separated fields of a line, surrounding blanks trimmed.
std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields = split_commas(line);
  for (std::string& field : fields) {
    const auto first = field.find_first_not_of(" \t\r");
    const auto last = field.find_last_not_of(" \t\r");
    field = first == std::string::npos ? "" : field.substr(first, last - first + 1);
  }
  return fields;
}

bool parse_float(const std::string& text, float& value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const double parsed = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(parsed)) return false;
  if (std::fabs(parsed) > std::numeric_limits<float>::max()) return false;
  value = static_cast<float>(parsed);
  return true;
}

// A class label: a whole number in [0, classes) (written as "3", or "3.0" by a float exporter).
bool is_class_label(float value, std::size_t classes) {
  return value >= 0.0f && value < static_cast<float>(classes) && std::floor(value) == value;
}

}  // namespace

Dataset load_csv(const std::string& path, std::size_t in, std::size_t out, std::size_t classes) {
  if (classes > 0 && out != 1) throw std::logic_error("load_csv: class labels are one target column");
  std::ifstream file(path);
  if (!file) throw UsageError("--data: cannot open '" + path + "': " + std::strerror(errno));
  return parse_csv(file, path, in, out, classes);
}

Dataset parse_csv(std::istream& file, const std::string& path, std::size_t in, std::size_t out, std::size_t classes) {
  Dataset data;
  data.in = in;
  data.out = out;
  data.classes = classes;
  data.source = path;
  std::string line;
  std::size_t line_number = 0;
  std::size_t columns = 0;
  bool first_content = true;
  while (std::getline(file, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> fields = split_fields(line);
    auto where = [&] { return "--data: " + path + " line " + std::to_string(line_number) + ": "; };
    if (first_content) {
      first_content = false;
      float ignored;
      if (std::none_of(fields.begin(), fields.end(), [&](const std::string& f) { return parse_float(f, ignored); }))
        continue;  // a header
    }
    if (columns == 0) {
      columns = fields.size();
      if (columns < in + out)
        throw UsageError(where() + std::to_string(columns) + " columns, but --in " + std::to_string(in) + " and --out " +
                         std::to_string(out) + " need at least " + std::to_string(in + out));
    } else if (fields.size() != columns) {
      throw UsageError(where() + std::to_string(fields.size()) + " columns where earlier rows have " +
                       std::to_string(columns));
    }
    for (std::size_t c = 0; c < in + out; ++c) {
      float value = 0;
      if (!parse_float(fields[c], value))
        throw UsageError(where() + "column " + std::to_string(c + 1) + " ('" + fields[c] + "') is not a finite number");
      if (c >= in && classes > 0 && !is_class_label(value, classes))
        throw UsageError(where() + "column " + std::to_string(c + 1) + " ('" + fields[c] +
                         "') is not a class label (a whole number in [0, " + std::to_string(classes) +
                         ") is, for --loss cross-entropy --classes " + std::to_string(classes) + ")");
      (c < in ? data.inputs : data.targets).push_back(value);
    }
  }
  if (data.inputs.empty()) throw UsageError("--data: " + path + " holds no data rows");
  if (data.rows() > std::numeric_limits<std::uint32_t>::max())
    throw UsageError("--data: " + path + " has more rows than egc indexes (2^32 - 1)");
  return data;
}

void split_dataset(Dataset& data, double eval_fraction, std::uint64_t seed) {
  if (!(eval_fraction >= 0.0 && eval_fraction < 1.0))
    throw UsageError("--eval-split: " + std::to_string(eval_fraction) + " is not accepted (a fraction in [0, 1) is)");
  const std::size_t rows = data.rows();
  const std::size_t eval = static_cast<std::size_t>(std::llround(eval_fraction * static_cast<double>(rows)));
  if (eval >= rows)
    throw UsageError("--eval-split: " + std::to_string(eval_fraction) + " leaves no training rows of " +
                     std::to_string(rows));
  std::vector<std::uint32_t> order(rows);
  std::iota(order.begin(), order.end(), 0u);
  Random random(derive_seed(seed, 2));
  random.shuffle(order.data(), order.size());
  data.eval_rows.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(eval));
  data.train_rows.assign(order.begin() + static_cast<std::ptrdiff_t>(eval), order.end());
}

}  // namespace egc
