// tools/plot renders every figure from a small egc_train report, egc_bench sweep and curve.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "tests/command_helpers.h"

namespace {

// The command's exit code; its output goes into the test's log when the check fails.
int run(const std::string& command) {
  const egc::test::CommandResult result = egc::test::run_command(command);
  if (result.code != 0) MESSAGE(command << ":\n" << result.output);
  return result.code;
}

using egc::test::read_file;

void check_png(const std::string& path) {
  INFO(path);
  const std::string bytes = read_file(path);
  CHECK(bytes.size() > 10000);  // a drawn figure, not an empty canvas
  CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  std::remove(path.c_str());
}

}  // namespace

TEST_CASE("plots of a training report, a bench sweep and a budget curve") {
  REQUIRE(run(std::string(EGC_TRAIN_PATH) +
              " --device cpu --steps 40 --samples 2000 --layers 3 --width 16 --alloc per-buffer --log-level warn "
              "--report test_plot_report.json") == 0);
  REQUIRE(run(std::string(EGC_BENCH_PATH) +
              " --device cpu --plans none,sqrtn --batches 8,32 --depths 3 --width 16 --steps 2 --warmup 1 "
              "--profile-steps 1 --json test_plot_bench.json") == 0);
  REQUIRE(run(std::string(EGC_PLOT_PATH) + " report test_plot_report.json --out .") == 0);
  for (const char* png : {"memory_timeline.png", "loss.png", "predictions.png"}) check_png(png);
  REQUIRE(run(std::string(EGC_PLOT_PATH) + " bench test_plot_bench.json --out .") == 0);
  for (const char* png : {"bench_memory.png", "bench_time.png"}) check_png(png);
  REQUIRE(run(std::string(EGC_BENCH_PATH) + " --curve --preset equal64 --points 6 --json test_plot_curve.json") == 0);
  REQUIRE(run(std::string(EGC_PLOT_PATH) + " curve test_plot_curve.json --out .") == 0);
  check_png("curve.png");
  check_png("curve_time.png");
  std::remove("test_plot_curve.json");
  // Classification: the accuracy curve and a confusion matrix; two runs side by side.
  const std::string classes = std::string(EGC_TRAIN_PATH) +
                              " --device cpu --steps 30 --samples 2000 --width 16 --loss cross-entropy --classes 4 "
                              "--log-level warn --log-every 2 ";
  REQUIRE(run(classes + "--layers 3 --report test_plot_plain.json") == 0);
  REQUIRE(run(classes + "--block residual --layers 2 --report test_plot_residual.json") == 0);
  REQUIRE(run(std::string(EGC_PLOT_PATH) + " report test_plot_residual.json --out .") == 0);
  for (const char* png : {"memory_timeline.png", "loss.png", "accuracy.png", "predictions.png"}) check_png(png);
  REQUIRE(run(std::string(EGC_PLOT_PATH) + " runs test_plot_plain.json test_plot_residual.json --out .") == 0);
  check_png("runs.png");
  std::remove("test_plot_plain.json");
  std::remove("test_plot_residual.json");
  CHECK(run(std::string(EGC_PLOT_PATH) + " report no_such_file.json") != 0);
  std::remove("test_plot_report.json");
  std::remove("test_plot_bench.json");
}
