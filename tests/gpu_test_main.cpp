// The doctest main of the GPU suites: without a usable CUDA device it prints why and exits with
// 77, which ctest reports as Skipped (SKIP_RETURN_CODE), so a missing GPU never counts as a pass;
// with EGC_TEST_DEVICE=sim or --egc-device=sim they run on the simulated device instead
// (tests/cuda_test_support.h).
// Listing the test cases (what ctest's discovery does at build time) needs no device. Errors
// logged through spdlog fail the run (tests/log_checks.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "runtime/backend_factory.h"
#include "tests/cuda_test_support.h"
#include "tests/log_checks.h"

namespace {

constexpr int kSkipped = 77;

// doctest's query flags (-ltc, --list-test-cases, --dt-count, -h, ...): they run no test.
bool only_asks_for_information(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view name = argv[i];
    name.remove_prefix(std::min(name.find_first_not_of('-'), name.size()));
    if (name.substr(0, 3) == "dt-") name.remove_prefix(3);
    name = name.substr(0, name.find('='));
    for (const std::string_view query : {"ltc", "list-test-cases", "lts", "list-test-suites", "lr", "list-reporters",
                                         "h", "help", "?", "v", "version", "c", "count"})
      if (name == query) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // --egc-device=sim (what ctest passes to the "sim: ..." registrations) is EGC_TEST_DEVICE=sim;
  // doctest leaves arguments it does not know alone.
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--egc-device=sim") ::setenv("EGC_TEST_DEVICE", "sim", 1);
  std::string why;
  if (!only_asks_for_information(argc, argv) && !egc::test::testing_simulated_device() &&
      !egc::cuda_available(&why)) {
    std::cout << "skipped: " << why << "\n";
    return kSkipped;
  }
  egc::test::fail_tests_on_logged_errors();
  doctest::Context context(argc, argv);
  return egc::test::with_errors_outside_tests(context.run());
}
