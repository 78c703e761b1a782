// --host-memory on the command line: egc_train's three-way plans (printed, reported, trained on
// the simulated device with a passing verdict), egc_bench's three-way curve, and bad input.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/command_helpers.h"

namespace {

using egc::test::CommandResult;
using egc::test::exists;
using egc::test::read_file;
using egc::test::run_command;

CommandResult run(const std::string& args) { return run_command(std::string(EGC_TRAIN_PATH) + " " + args); }
CommandResult run_bench(const std::string& args) { return run_command(std::string(EGC_BENCH_PATH) + " " + args); }

constexpr const char* kModel = "--layers 16 --width 256 --batch 128 --samples 512 --seed 3";

}  // namespace

TEST_CASE("--host-memory: budget plans offload, the report and the verdict show the host arena") {
  const std::string report = "offload_cli_report.json";
  std::remove(report.c_str());
  const CommandResult result = run(std::string(kModel) + " --plan budget:700KiB --host-memory 64MiB --device sim --steps 2 "
                                   "--schedule full --report " + report);
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK(result.output.find("host arena") != std::string::npos);
  CHECK(result.output.find("offload") != std::string::npos);
  CHECK(result.output.find("memory verdict: PASS") != std::string::npos);
  const nlohmann::json json = nlohmann::json::parse(read_file(report));
  CHECK(json["config"]["host_memory_bytes"] == 64 << 20);
  CHECK(json["plan"]["host_arena_bytes"].get<std::size_t>() > 0);
  CHECK(json["plan"]["activation_peak_bytes"].get<std::size_t>() <= 700 * 1024);
  CHECK(json["measured"]["host_peak_bytes"] == json["plan"]["host_arena_bytes"]);
  std::remove(report.c_str());
}

TEST_CASE("--host-memory: bad sizes and infeasible budgets exit with 2 and name the flag or the smallest budget") {
  const CommandResult bad = run(std::string(kModel) + " --plan budget:700KiB --host-memory lots --dry-run");
  CHECK(bad.code == 2);
  CHECK(bad.output.find("--host-memory") != std::string::npos);
  const CommandResult small = run(std::string(kModel) + " --plan budget:400KiB --host-memory 64MiB --dry-run");
  CHECK(small.code == 2);
  CHECK(small.output.find("smallest feasible activation peak") != std::string::npos);
  const CommandResult host = run(std::string(kModel) + " --plan budget:700KiB --host-memory 1KiB --dry-run");
  CHECK(host.code == 2);
  CHECK(host.output.find("needs --host-memory") != std::string::npos);
  // Without --host-memory (or with 0) nothing offloads.
  const CommandResult off = run(std::string(kModel) + " --plan budget:700KiB --host-memory 0 --dry-run");
  CHECK(off.code == 0);
  CHECK(off.output.find("host arena") == std::string::npos);
  const CommandResult bench = run_bench("--host-memory 1GiB");
  CHECK(bench.code == 2);
  CHECK(bench.output.find("--host-memory: belongs to --curve") != std::string::npos);
}

TEST_CASE("egc_bench --curve --host-memory: three-way plans beside two-way ones, in the table and the JSON") {
  const std::string json_path = "offload_cli_curve.json";
  std::remove(json_path.c_str());
  const CommandResult result = run_bench("--curve --layers 16 --width 512 --batch 256 --points 5 --host-memory 1GiB "
                                         "--profile " EGC_SOURCE_DIR "/profiles/h200.json --json " + json_path);
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK(result.output.find("Three-way plans") != std::string::npos);
  const nlohmann::json json = nlohmann::json::parse(read_file(json_path));
  REQUIRE(json.contains("three_way"));
  REQUIRE(json.contains("rows"));  // the two-way curve is still there
  const nlohmann::json& rows = json["three_way"]["rows"];
  CHECK(rows.size() == 5);
  const nlohmann::json& full = rows.back();  // at none's activation peak both fit
  REQUIRE(!full["three_way"].is_null());
  REQUIRE(!full["two_way"].is_null());
  CHECK(full["three_way"]["activation_peak_bytes"].get<std::size_t>() <= full["budget_bytes"].get<std::size_t>());
  std::remove(json_path.c_str());
  CHECK(!exists(json_path));
}
