// The doctest main shared by every CPU suite; errors logged through spdlog fail the run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tests/log_checks.h"

int main(int argc, char** argv) {
  egc::test::fail_tests_on_logged_errors();
  doctest::Context context(argc, argv);
  return egc::test::with_errors_outside_tests(context.run());
}
