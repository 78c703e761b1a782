// egc_train's and egc_bench's command lines: bad input gets one line naming the flag, exit code
// 2, no file; the modes print and write what they promise.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace {

struct Result {
  int code = -1;
  std::string output;
};

Result run_program(const char* path, const std::string& args) {
  const std::string command = std::string(path) + " " + args + " 2>&1";
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  const int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Result run(const std::string& args) { return run_program(EGC_TRAIN_PATH, args); }
Result run_bench(const std::string& args) { return run_program(EGC_BENCH_PATH, args); }

bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

TEST_CASE("bad flags and values exit with 2 and name the flag") {
  const std::string report = "test_cli_report.json";
  std::remove(report.c_str());
  const std::pair<const char*, const char*> cases[] = {
      {"--plan bogus", "--plan"},
      {"--plan every:0", "--plan"},
      {"--plan every:x", "--plan"},
      {"--layers 0", "--layers"},
      {"--layers -3", "--layers"},
      {"--width abc", "--width"},
      {"--batch 0", "--batch"},
      {"--widths 4,0,4", "--widths"},
      {"--activation swish", "--activation"},
      {"--optimizer lbfgs", "--optimizer"},
      {"--schedule everything", "--schedule"},
      {"--no-such-flag", "--no-such-flag"},
      {"--width 4294967296 --batch 4294967296", "overflows 64 bits"},
      {"--layers 3 --widths 4,4", "--widths"},
      {"--plan budget:12XB", "--plan"},
      {"--plan budget:1KiB", "smallest feasible activation peak"},
      {"--plan chen-greedy:x", "--plan"},
      {"--plan auto", "--max-memory"},
      {"--plan auto --max-memory 1MiB", "smallest arena needs"},
      {"--plan none --max-memory 1MiB", "--max-memory"},
      {"--max-memory 12Q", "--max-memory"},
  };
  for (const auto& [args, expected] : cases) {
    const Result result = run(std::string("--dry-run --report ") + report + " " + args);
    INFO(args << " -> " << result.output);
    CHECK(result.code == 2);
    CHECK(result.output.find(expected) != std::string::npos);
    CHECK(!exists(report));
  }
}

TEST_CASE("--dry-run prints the schedule and writes the report") {
  const std::string report = "test_cli_dry_run.json";
  std::remove(report.c_str());
  const Result result = run("--dry-run --plan sqrtn --layers 16 --width 64 --batch 32 --report " + report);
  INFO(result.output);
  CHECK(result.code == 0);
  CHECK(result.output.find("activation peak") != std::string::npos);
  CHECK(result.output.find("arena") != std::string::npos);
  CHECK(exists(report));
  std::remove(report.c_str());
}

TEST_CASE("budget, chen-greedy and auto plans print what they chose") {
  Result result = run("--dry-run --plan budget:600KiB --layers 15 --width 256 --batch 64");
  INFO(result.output);
  CHECK(result.code == 0);
  CHECK(result.output.find("within an activation budget of 600.00 KiB") != std::string::npos);
  CHECK(result.output.find("checkpoints") != std::string::npos);
  result = run("--dry-run --plan chen-greedy --layers 15 --width 256 --batch 64");
  CHECK(result.code == 0);
  CHECK(result.output.find("Chen et al. Algorithm 3") != std::string::npos);
  result = run("--dry-run --plan auto --max-memory 31MiB --layers 40 --width 256 --batch 64");
  CHECK(result.code == 0);
  CHECK(result.output.find("auto: none needs") != std::string::npos);
}

TEST_CASE("--help lists every flag") {
  const Result result = run("--help");
  CHECK(result.code == 0);
  for (const char* flag : {"--plan", "--layers", "--width", "--widths", "--batch", "--in", "--out", "--activation",
                           "--optimizer", "--dry-run", "--report", "--schedule", "--max-memory"})
    CHECK(result.output.find(flag) != std::string::npos);
}

TEST_CASE("egc_bench --curve prints the curve and writes CSV and JSON") {
  const std::string csv = "test_cli_curve.csv", json = "test_cli_curve.json";
  std::remove(csv.c_str());
  std::remove(json.c_str());
  const Result result = run_bench("--curve --preset unequal --points 5 --csv " + csv + " --json " + json);
  INFO(result.output);
  CHECK(result.code == 0);
  for (const char* text : {"budget plan", "chen-greedy", "best every:K", "sqrtn", "32x(2048,128)"})
    CHECK(result.output.find(text) != std::string::npos);
  std::ifstream csv_file(csv);
  std::string header;
  std::getline(csv_file, header);
  CHECK(header == "plan,budget_bytes,activation_peak_bytes,recompute_flops,recompute_percent");
  std::ifstream json_file(json);
  const std::string text((std::istreambuf_iterator<char>(json_file)), std::istreambuf_iterator<char>());
  CHECK(text.find("\"egc_curve_version\": 1") != std::string::npos);
  CHECK(text.find("\"rows\"") != std::string::npos);
  std::remove(csv.c_str());
  std::remove(json.c_str());
}

TEST_CASE("egc_bench: bad input exits with 2, names the flag and writes nothing") {
  const std::string csv = "test_cli_curve_bad.csv";
  std::remove(csv.c_str());
  const std::pair<const char*, const char*> cases[] = {
      {"", "--curve"},
      {"--curve --preset bogus", "--preset"},
      {"--curve --preset equal64 --layers 3", "--preset"},
      {"--curve --points 1", "--points"},
      {"--curve --points x", "--points"},
      {"--curve --width 0", "--width"},
  };
  for (const auto& [args, expected] : cases) {
    const Result result = run_bench(std::string(args) + " --csv " + csv);
    INFO(args << " -> " << result.output);
    CHECK(result.code == 2);
    CHECK(result.output.find(expected) != std::string::npos);
    CHECK(!exists(csv));
  }
}
