// The default run, end to end (label slow: the sanitizer build leaves it out, it takes minutes
// there; the Release build runs it in seconds).
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/command_helpers.h"

using egc::test::read_file;
using egc::test::run_command;

TEST_CASE("the default run learns the synthetic task: evaluation MSE at most twice the noise variance") {
  const std::string report = "test_cli_default_run.json";
  const egc::test::CommandResult result =
      run_command(std::string(EGC_TRAIN_PATH) + " --plan sqrtn --device cpu --log-level warn --report " + report);
  INFO(result.output);
  REQUIRE(result.code == 0);
  const nlohmann::json json = nlohmann::json::parse(read_file(report));
  const double eval_mse = json["training"]["eval_mse"];
  MESSAGE("default run: evaluation MSE " << eval_mse << " in " << json["training"]["seconds"].get<double>() << " s");
  CHECK(eval_mse <= 2 * 0.1 * 0.1);
  CHECK(json["measured"]["arena_bytes"] == json["plan"]["arena_bytes"]);
  std::remove(report.c_str());
}

