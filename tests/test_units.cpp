// Numbers users write and read: sizes with units, whole and real numbers, percentages, enum
// names; overflow detection.
#include <doctest/doctest.h>

#include <limits>

#include "planner/errors.h"
#include "planner/model_spec.h"
#include "planner/plan.h"
#include "planner/report.h"
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

TEST_CASE("parse_whole: the range is inclusive, overflow and garbage are refused naming the flag and the range") {
  CHECK(parse_whole("0", "--steps", 0, 10) == 0);
  CHECK(parse_whole("10", "--steps", 0, 10) == 10);
  CHECK(parse_whole("18446744073709551615", "--seed", 0, std::numeric_limits<std::size_t>::max()) ==
        std::numeric_limits<std::size_t>::max());
  for (const char* bad : {"11", "", "+3", "3.0", " 3", "18446744073709551616", "99999999999999999999999"}) {
    CAPTURE(bad);
    try {
      parse_whole(bad, "--steps", 0, 10);
      FAIL("accepted");
    } catch (const UsageError& e) {
      CHECK(std::string(e.what()) == "--steps: '" + std::string(bad) + "' is not accepted (a whole number from 0 to 10 is)");
    }
  }
  CHECK_THROWS_WITH(parse_positive("0", "--layers"), "--layers: '0' is not accepted (a positive whole number is)");
}

TEST_CASE("parse_real: finite numbers in range only") {
  CHECK(parse_real("1e-3", "--lr", 0, 1) == doctest::Approx(0.001));
  for (const char* bad : {"", "nan", "inf", "2", "-0.5", "1x", "1e999"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_real(bad, "--lr", 0, 1), UsageError);
  }
}

TEST_CASE("format_percent: decimals, sign, and no division by zero") {
  CHECK(format_percent(1, 8) == "12.5%");
  CHECK(format_percent(1, 3, 4) == "33.3333%");
  CHECK(format_percent(-1, 250, 2, true) == "-0.40%");
  CHECK(format_percent(0, 250, 2, true) == "+0.00%");
  CHECK(format_percent(5, 0) == "0.0%");
  CHECK(pad_left("ab", 4) == "  ab");
  CHECK(pad_right("ab", 4) == "ab  ");
  CHECK(pad_left("abcdef", 4) == "abcdef");
}

TEST_CASE("enum names: one table prints and parses, and lists what is accepted") {
  for (const EnumName<Activation>& entry : kActivationNames) CHECK(std::string(to_string(entry.value)) == entry.name);
  CHECK(parse_activation("gelu") == Activation::gelu);
  // identity is printed (the output layer's) but not offered on the command line.
  CHECK_THROWS_WITH(parse_activation("identity"),
                    "--activation: unknown activation 'identity' (accepted: relu, gelu, tanh)");
  CHECK_THROWS_WITH(parse_schedule_detail("all"), "--schedule: unknown value 'all' (accepted: summary, full, none)");
  CHECK(std::string(to_string(BufferKind::activation_gradients)) == "activation_gradients");
  CHECK(std::string(to_string(OpKind::update)) == "update");
  CHECK(std::string(to_string(OpKind::derive)) == "derive");
  CHECK(kBufferKindCount == 7);
  CHECK(kOpKindCount == 8);
  CHECK(std::string(to_string(OpKind::prefetch)) == "prefetch");
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
  CHECK(footprint_of(1) == 256);
  CHECK(footprint_of(512) == 512);
  CHECK_THROWS_AS(footprint_of(max - 10), UsageError);
}
