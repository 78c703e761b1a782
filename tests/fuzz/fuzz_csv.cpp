// libFuzzer target: the CSV reader (--data) and the split, on any text. The first byte picks
// --in and --out (1 to 3 each); a malformed file must be a UsageError, nothing else.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "planner/errors.h"
#include "runtime/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t in = 1 + data[0] % 3, out = 1 + data[0] / 3 % 3;
  std::istringstream text(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  try {
    egc::Dataset dataset = egc::parse_csv(text, "fuzz.csv", in, out);
    egc::split_dataset(dataset, 0.25, data[0]);
  } catch (const egc::UsageError&) {
  }
  return 0;
}
