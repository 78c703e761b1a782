// require_fits: a plan that does not fit says the bytes needed, the bytes free and the
// cheapest listed plan (least recomputation) that fits, before anything is allocated.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "planner/errors.h"
#include "runtime/cpu_backend.h"
#include "runtime/memory_fit.h"

namespace egc {

TEST_CASE("require_fits: fits, the cheapest plan that fits, none fits") {
  const std::vector<PlanOption> listed = {{"none", 1000, 0}, {"every:2", 700, 50}, {"sqrtn", 500, 80},
                                          {"every:8", 600, 90}};
  CHECK_NOTHROW(require_fits(listed[0], 1000, listed));
  try {
    require_fits(listed[0], 800, listed);
    FAIL("expected a UsageError");
  } catch (const UsageError& error) {
    const std::string message = error.what();
    INFO(message);
    CHECK(message.find("--plan none") != std::string::npos);
    CHECK(message.find("1000 bytes") != std::string::npos);
    CHECK(message.find("800 bytes") != std::string::npos);
    CHECK(message.find("--plan every:2") != std::string::npos);  // fits, and recomputes least
  }
  try {
    require_fits(listed[0], 400, listed);
    FAIL("expected a UsageError");
  } catch (const UsageError& error) {
    const std::string message = error.what();
    INFO(message);
    CHECK(message.find("no listed plan fits") != std::string::npos);
    CHECK(message.find("--plan sqrtn") != std::string::npos);  // the smallest
  }
}

TEST_CASE("check_plan_fits checks nothing on a backend without device memory") {
  CpuBackend cpu;
  Plan plan;
  plan.name = "none";
  plan.arena_bytes = ~std::size_t{0};
  CHECK_NOTHROW(check_plan_fits(plan, AllocMode::arena, cpu, {}));
}

}  // namespace egc
