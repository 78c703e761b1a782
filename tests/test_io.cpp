// Data and files: the synthetic task, CSV rows and their errors, the split, safetensors
// round trips and corrupt files, atomic writes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <iterator>
#include <set>
#include <string>

#include "planner/chain.h"
#include "planner/errors.h"
#include "planner/parameter_tensors.h"
#include "runtime/atomic_file.h"
#include "runtime/dataset.h"
#include "runtime/safetensors.h"

using namespace egc;

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

std::string usage_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

Chain small_chain() {
  ModelSpec model;
  model.hidden_widths = {3, 5};
  model.in_features = 2;
  model.out_features = 1;
  return build_chain(model);
}

}  // namespace

TEST_CASE("synthetic data: x spans exactly [-1, 1], y = 2x + 3 + noise") {
  const Dataset data = make_synthetic(10000, 1, 1, 0.1, 5);
  CHECK(data.rows() == 10000);
  CHECK(*std::min_element(data.inputs.begin(), data.inputs.end()) == -1.0f);
  CHECK(*std::max_element(data.inputs.begin(), data.inputs.end()) == 1.0f);
  double residual_sum = 0, residual_squares = 0;
  for (std::size_t i = 0; i < data.rows(); ++i) {
    const double residual = data.targets[i] - (2.0 * data.inputs[i] + 3.0);
    residual_sum += residual;
    residual_squares += residual * residual;
  }
  const double mean = residual_sum / data.rows();
  const double variance = residual_squares / data.rows() - mean * mean;
  CHECK(std::abs(mean) < 0.01);                 // 4 standard errors of 0.1/sqrt(1e4) = 0.001... generous
  CHECK(std::abs(variance - 0.01) < 0.001);     // the noise variance, within 10%
  const Dataset again = make_synthetic(10000, 1, 1, 0.1, 5);
  CHECK(again.inputs == data.inputs);
  CHECK(make_synthetic(10000, 1, 1, 0.1, 6).inputs != data.inputs);
}

TEST_CASE("the split is a seeded partition of the rows") {
  Dataset data = make_synthetic(1000, 1, 1, 0.1, 1);
  split_dataset(data, 0.1, 3);
  CHECK(data.eval_rows.size() == 100);
  CHECK(data.train_rows.size() == 900);
  std::set<std::uint32_t> all(data.train_rows.begin(), data.train_rows.end());
  all.insert(data.eval_rows.begin(), data.eval_rows.end());
  CHECK(all.size() == 1000);
  split_dataset(data, 0.0, 3);
  CHECK(data.eval_rows.empty());
  CHECK_THROWS_AS(split_dataset(data, 1.0, 3), UsageError);
  CHECK_THROWS_AS(split_dataset(data, -0.1, 3), UsageError);
}

TEST_CASE("CSV: header skipped, columns read, malformed rows rejected with their line number") {
  const std::string path = "test_io_data.csv";
  write_text(path, "x1,x2,y,extra\n0.5, -1, 2.5, 9\n\n1e-3,2,3,9\n");
  const Dataset data = load_csv(path, 2, 1);
  CHECK(data.rows() == 2);
  CHECK(data.inputs == std::vector<float>{0.5f, -1.0f, 0.001f, 2.0f});
  CHECK(data.targets == std::vector<float>{2.5f, 3.0f});

  write_text(path, "1,2,3\n4,x,6\n");
  CHECK(usage_error_of([&] { load_csv(path, 2, 1); }).find("line 2") != std::string::npos);
  write_text(path, "1,2,3\n4,5\n");
  CHECK(usage_error_of([&] { load_csv(path, 2, 1); }).find("line 2") != std::string::npos);
  write_text(path, "1,2\n");
  CHECK(usage_error_of([&] { load_csv(path, 2, 1); }).find("line 1") != std::string::npos);
  write_text(path, "1,2,inf\n");
  CHECK(usage_error_of([&] { load_csv(path, 2, 1); }).find("line 1") != std::string::npos);
  write_text(path, "a,b,c\n");
  CHECK(usage_error_of([&] { load_csv(path, 2, 1); }).find("no data rows") != std::string::npos);
  CHECK(usage_error_of([&] { load_csv("no/such/file.csv", 2, 1); }).find("--data") == 0);
  std::remove(path.c_str());
}

TEST_CASE("synthetic classes: the regression task's targets cut into equal bins over 1 to 5") {
  const Dataset values = make_synthetic(5000, 2, 1, 0.1, 9);
  const Dataset classes = make_synthetic_classes(5000, 2, 4, 0.1, 9);
  CHECK(classes.inputs == values.inputs);  // the same draws
  CHECK(classes.classes == 4);
  CHECK(classes.out == 1);
  std::vector<std::size_t> count(4, 0);
  for (std::size_t i = 0; i < classes.rows(); ++i) {
    const float label = classes.targets[i];
    REQUIRE(label == std::floor(label));
    REQUIRE((label >= 0.0f && label <= 3.0f));
    ++count[static_cast<std::size_t>(label)];
    // Bin k holds t in [1 + k, 2 + k) (bins of width 4/4 = 1), the outer ones open-ended.
    const double t = values.targets[i];
    CHECK(label == static_cast<float>(std::clamp(std::floor(t - 1.0), 0.0, 3.0)));
  }
  // x uniform over [-1, 1] makes t uniform over [1, 5]: every class about a quarter of the rows
  // (binomial, sd 31 rows of 1250; 1100 is 4.8 sd away).
  for (std::size_t k = 0; k < 4; ++k) CHECK(count[k] > 1100);
  ModelSpec model;
  model.loss = LossKind::cross_entropy;
  model.out_features = 4;
  model.in_features = 2;
  CHECK(make_synthetic_for(model, 5000, 0.1, 9).targets == classes.targets);
}

TEST_CASE("CSV class labels: whole numbers below K, anything else names its line") {
  const std::string path = "test_io_labels.csv";
  write_text(path, "a,b,label\n0.5,1,0\n0.25,2,2.0\n\n1,1,1\n");
  const Dataset data = load_csv(path, 2, 1, 3);
  CHECK(data.classes == 3);
  CHECK(data.targets == std::vector<float>{0.0f, 2.0f, 1.0f});
  for (const char* bad : {"3", "-1", "1.5", "x", "1e9"}) {
    INFO(bad);
    write_text(path, "0.5,1,0\n\n0.25,2," + std::string(bad) + "\n");
    const std::string message = usage_error_of([&] { load_csv(path, 2, 1, 3); });
    CHECK(message.find("line 3") != std::string::npos);
    CHECK(message.find("column 3") != std::string::npos);
    CHECK(message.find(std::string(bad) == "x" ? "not a finite number" : "not a class label") != std::string::npos);
  }
  ModelSpec model;
  model.in_features = 2;
  model.loss = LossKind::cross_entropy;
  model.out_features = 2;  // label 2 is outside [0, 2)
  write_text(path, "0.5,1,0\n0.25,2,2\n");
  CHECK(usage_error_of([&] { load_csv_for(path, model); }).find("line 2") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("safetensors: round trip, PyTorch names and shapes") {
  const Chain chain = small_chain();
  std::vector<float> params(chain.param_count);
  for (std::size_t i = 0; i < params.size(); ++i) params[i] = static_cast<float>(i) * 0.25f - 3.0f;
  const std::string path = "test_io_params.safetensors";
  save_safetensors(path, chain, params);
  CHECK(load_safetensors(path, chain) == params);
  const std::string bytes = read_text(path);
  std::uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  CHECK((8 + header_length) % 8 == 0);
  const std::string header = bytes.substr(8, header_length);
  CHECK(header.find("\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2]") != std::string::npos);
  CHECK(header.find("\"2.bias\"") != std::string::npos);
  CHECK(header.find("\"4.weight\":{\"dtype\":\"F32\",\"shape\":[1,5]") != std::string::npos);
  CHECK(bytes.size() == 8 + header_length + params.size() * 4);
  std::remove(path.c_str());
}

TEST_CASE("safetensors: a residual model under ResidualMLP's state_dict names, in the buffer's order") {
  ModelSpec model;
  model.block = BlockKind::residual;
  model.hidden_widths = {4, 4};
  model.expand = 2;
  model.in_features = 3;
  model.out_features = 2;
  const Chain chain = build_chain(model);
  const std::vector<ParameterTensor> tensors = parameter_tensors(chain);
  std::vector<std::string> names;
  std::size_t next = 0;
  for (const ParameterTensor& t : tensors) {
    names.push_back(t.name);
    CHECK(t.offset == next);  // contiguous, in state_dict order
    next += t.count;
  }
  CHECK(next == chain.param_count);
  CHECK(names == std::vector<std::string>{"input.weight", "input.bias", "blocks.0.norm.weight", "blocks.0.norm.bias",
                                          "blocks.0.fc1.weight", "blocks.0.fc1.bias", "blocks.0.fc2.weight",
                                          "blocks.0.fc2.bias", "blocks.1.norm.weight", "blocks.1.norm.bias",
                                          "blocks.1.fc1.weight", "blocks.1.fc1.bias", "blocks.1.fc2.weight",
                                          "blocks.1.fc2.bias", "head.weight", "head.bias"});
  CHECK(tensors[4].shape == std::vector<std::size_t>{8, 4});  // fc1: [inner, width]
  CHECK(tensors[6].shape == std::vector<std::size_t>{4, 8});  // fc2: [width, inner]
  CHECK(tensors[2].init == TensorInit::ones);
  CHECK(tensors[3].init == TensorInit::zeros);
  CHECK(tensors[6].fan_in == 8);
  std::vector<float> params(chain.param_count);
  for (std::size_t i = 0; i < params.size(); ++i) params[i] = static_cast<float>(i) * 0.5f - 7.0f;
  const std::string path = "test_io_residual.safetensors";
  save_safetensors(path, chain, params);
  CHECK(load_safetensors(path, chain) == params);
  model.norm = Norm::none;  // no norm tensors: the file's are unexpected
  CHECK(usage_error_of([&] { load_safetensors(path, build_chain(model)); }).find("blocks.0.norm.") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("safetensors: corrupt, truncated and mismatched files are UsageErrors naming --load") {
  const Chain chain = small_chain();
  const std::vector<float> params(chain.param_count, 1.0f);
  const std::string path = "test_io_bad.safetensors";
  save_safetensors(path, chain, params);
  const std::string good = read_text(path);

  write_text(path, good.substr(0, good.size() - 4));
  CHECK(usage_error_of([&] { load_safetensors(path, chain); }).find("truncated") != std::string::npos);
  write_text(path, good.substr(0, 5));
  CHECK(usage_error_of([&] { load_safetensors(path, chain); }).find("--load") == 0);
  std::string corrupt = good;
  corrupt[8] = '#';  // the header's opening brace
  write_text(path, corrupt);
  CHECK(usage_error_of([&] { load_safetensors(path, chain); }).find("corrupt") != std::string::npos);
  write_text(path, good);
  ModelSpec wider;
  wider.hidden_widths = {4, 5};
  wider.in_features = 2;
  CHECK(usage_error_of([&] { load_safetensors(path, build_chain(wider)); }).find("shape") != std::string::npos);
  ModelSpec deeper;
  deeper.hidden_widths = {3, 5, 5};
  deeper.in_features = 2;
  CHECK(usage_error_of([&] { load_safetensors(path, build_chain(deeper)); }).find("--load") == 0);
  ModelSpec shallower;
  shallower.hidden_widths = {3};
  shallower.in_features = 2;
  CHECK(!usage_error_of([&] { load_safetensors(path, build_chain(shallower)); }).empty());
  CHECK(usage_error_of([&] { load_safetensors("no/such.safetensors", chain); }).find("--load") == 0);
  std::remove(path.c_str());
}

// Each header holds one malformed entry; the reader used to convert JSON numbers with
// nlohmann's get<size_t>, which is undefined for 1e300 (UBSan) and wraps -1 around.
TEST_CASE("safetensors: every malformed header entry is a UsageError, never undefined behaviour") {
  const std::string entries[] = {
      R"("0.weight":{"dtype":"F32","shape":[1e300],"data_offsets":[0,8]})",
      R"("0.weight":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]})",
      R"("0.weight":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]})",
      R"("0.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]})",
      R"("0.weight":{"dtype":"F32","shape":[2],"data_offsets":[8,0]})",
      R"("0.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]})",
      R"("0.weight":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]})",
      R"("0.weight":{"dtype":"F32","shape":[3],"data_offsets":[0,8]})",
      R"("0.weight":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]})",
      R"("0.weight":{"dtype":7,"shape":[2],"data_offsets":[0,8]})",
      R"("0.weight":[1,2])",
      R"("__metadata__":{"format":1})",
      R"("__metadata__":"pt")",
  };
  for (const std::string& entry : entries) {
    INFO(entry);
    const std::string header = "{" + entry + "}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(header.size() >> (8 * i));
    bytes += header + std::string(8, '\0');
    CHECK(usage_error_of([&] { parse_safetensors(bytes, "--load: 'x' "); }).find("--load: 'x' ") == 0);
  }
}

TEST_CASE("atomic writes: an unwritable path is a UsageError - a failed write leaves the old file whole") {
  CHECK(usage_error_of([] { write_file_atomically("no/such/dir/file", "--save", [](std::ostream&) {}); })
            .find("--save") == 0);
  CHECK(usage_error_of([] { check_writable("no/such/dir/file", "--report"); }).find("--report") == 0);
  const std::string path = "test_io_atomic.txt";
  write_text(path, "old contents");
  CHECK_THROWS(write_file_atomically(path, "--report", [](std::ostream& out) {
    out << "half";
    throw std::runtime_error("interrupted");
  }));
  CHECK(read_text(path) == "old contents");
  write_file_atomically(path, "--report", [](std::ostream& out) { out << "new"; });
  CHECK(read_text(path) == "new");
  std::remove(path.c_str());
}
