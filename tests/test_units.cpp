// Byte sizes: parsing with units, printing, overflow detection.
#include <doctest/doctest.h>

#include <limits>

#include "planner/errors.h"
#include "planner/units.h"

using namespace egc;

TEST_CASE("parse_size accepts bytes and binary and decimal units") {
  CHECK(parse_size("1048576", "--x") == 1048576);
  CHECK(parse_size("512MiB", "--x") == 512ull << 20);
  CHECK(parse_size("8GiB", "--x") == 8ull << 30);
  CHECK(parse_size("8gib", "--x") == 8ull << 30);
  CHECK(parse_size("64KiB", "--x") == 65536);
  CHECK(parse_size("1.5GiB", "--x") == 3ull << 29);
  CHECK(parse_size("2GB", "--x") == 2000000000ull);
  CHECK(parse_size("100 B", "--x") == 100);
  CHECK(parse_size("18446744073709551615", "--x") == std::numeric_limits<std::size_t>::max());
}

TEST_CASE("parse_size rejects bad text and overflow, naming the flag") {
  for (const char* bad : {"", "MiB", "12XB", "1.2.3GiB", "-5", "18446744073709551616", "17179869184GiB"}) {
    CAPTURE(bad);
    try {
      parse_size(bad, "--max-memory");
      FAIL("accepted");
    } catch (const UsageError& e) {
      CHECK(std::string(e.what()).find("--max-memory") == 0);
    }
  }
}

TEST_CASE("parse_positive rejects zero, negatives and garbage") {
  CHECK(parse_positive("17", "--layers") == 17);
  CHECK_THROWS_AS(parse_positive("0", "--layers"), UsageError);
  CHECK_THROWS_AS(parse_positive("-3", "--layers"), UsageError);
  CHECK_THROWS_AS(parse_positive("3x", "--layers"), UsageError);
  CHECK_THROWS_AS(parse_positive("99999999999999999999", "--layers"), UsageError);
}

TEST_CASE("format_bytes prints units") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.50 KiB");
  CHECK(format_bytes(3ull << 30) == "3.00 GiB");
}

TEST_CASE("checked arithmetic throws on overflow") {
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  CHECK(checked_mul(1ull << 31, 1ull << 31, "x") == 1ull << 62);
  CHECK_THROWS_AS(checked_mul(1ull << 32, 1ull << 32, "x"), UsageError);
  CHECK_THROWS_AS(checked_add(max, 1, "x"), UsageError);
  CHECK(align_up(1, 256) == 256);
  CHECK(align_up(256, 256) == 256);
  CHECK(align_up(0, 256) == 0);
}
