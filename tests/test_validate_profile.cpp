// tools/validate_profile: one small model's three plans, measured against a profile's prediction.
#include <doctest/doctest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/command_helpers.h"

TEST_CASE("validate_profile reports measured against predicted step time for none, sqrtn and a budget plan") {
  const std::string tool = std::string(EGC_SOURCE_DIR) + "/tools/validate_profile --egc-train " + EGC_TRAIN_PATH;
  const egc::test::CommandResult result = egc::test::run_command(
      tool + " --profile " + EGC_SOURCE_DIR + "/profiles/cpu-reference.json --steps 3 " +
      "--model '--layers 3 --width 8 --batch 16' --json test_validate_profile.json");
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK(result.output.find("| `--layers 3 --width 8 --batch 16` |") != std::string::npos);
  CHECK(result.output.find("largest error: ") != std::string::npos);
  const nlohmann::json report = nlohmann::json::parse(egc::test::read_file("test_validate_profile.json"));
  std::remove("test_validate_profile.json");
  REQUIRE(report.at("rounds").size() == 1);
  const nlohmann::json& rows = report.at("rounds").at(0);
  REQUIRE(rows.size() == 3);
  CHECK(rows.at(0).at("plan") == "none");
  CHECK(rows.at(1).at("plan") == "sqrtn");
  CHECK(rows.at(2).at("plan").get<std::string>().rfind("budget:", 0) == 0);
  for (const nlohmann::json& row : rows) {
    CHECK(row.at("measured_step_ms").get<double>() > 0);
    CHECK(row.at("predicted_step_ms").get<double>() > 0);
  }
}

TEST_CASE("validate_profile without a profile or --calibrate exits 2 naming the flag") {
  const egc::test::CommandResult result = egc::test::run_command(
      std::string(EGC_SOURCE_DIR) + "/tools/validate_profile --egc-train " + EGC_TRAIN_PATH);
  CHECK(result.code == 2);
  CHECK(result.output.find("--profile") != std::string::npos);
}
