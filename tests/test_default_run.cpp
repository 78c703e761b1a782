// The default run, end to end (label slow: the sanitizer build leaves it out, it takes minutes
// there; the Release build runs it in seconds).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

struct Result {
  int code = -1;
};

Result run(const std::string& args) {
  const int status = std::system((std::string(EGC_TRAIN_PATH) + " " + args + " > test_default_run.log 2>&1").c_str());
  return Result{WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace

TEST_CASE("the default run learns the synthetic task: evaluation MSE at most twice the noise variance") {
  const std::string report = "test_cli_default_run.json";
  const Result result = run("--plan sqrtn --device cpu --log-level warn --report " + report);
  INFO(read_file("test_default_run.log"));
  REQUIRE(result.code == 0);
  const nlohmann::json json = nlohmann::json::parse(read_file(report));
  const double eval_mse = json["training"]["eval_mse"];
  MESSAGE("default run: evaluation MSE " << eval_mse << " in " << json["training"]["seconds"].get<double>() << " s");
  CHECK(eval_mse <= 2 * 0.1 * 0.1);
  CHECK(json["measured"]["arena_bytes"] == json["plan"]["arena_bytes"]);
  std::remove(report.c_str());
}

