// libFuzzer target: the parsers of flag values — sizes, whole and real numbers, widths, plans —
// and, for a plan that parses, planning a small chain with it (budget and chen-greedy sizes reach
// the planners). The first byte picks the parser; bad text must be a UsageError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "planner/errors.h"
#include "planner/make_plan.h"
#include "planner/model_spec.h"
#include "planner/schedule.h"
#include "planner/units.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 6) {
      case 0: egc::parse_size(text, "--max-memory"); break;
      case 1: egc::parse_whole(text, "--steps", 0, ~std::size_t{0} >> 1); break;
      case 2: egc::parse_real(text, "--lr", 0.0, 1e6); break;
      case 3: egc::parse_widths(text); break;
      case 4: egc::parse_plan(text); break;
      default: {
        egc::ModelSpec model;
        model.hidden_widths = {8, 16, 8, 32};
        model.batch = 4;
        egc::StepContext context;
        context.memory_limit_bytes = 1 << 20;
        context.memory_limit_source = egc::MemoryLimitSource::user;
        egc::make_plan(model, context, egc::parse_plan(text));
      }
    }
  } catch (const egc::UsageError&) {
  }
  return 0;
}
