// egc_bench --curve: its flags, and the curve (planner/recompute_curve.h) as a table, CSV and
// JSON.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "planner/recompute_curve.h"

namespace egc {

std::string format_curve(const Curve& curve);
std::string curve_to_csv(const Curve& curve);  // one row per plan and budget (or fixed point)
nlohmann::json curve_to_json(const Curve& curve);

// egc_bench --curve: its own flags (text, parsed by egc's parsers); --width, --in, --out,
// --activation, --optimizer, --csv and --json are the program's shared ones.
struct CurveFlags {
  bool curve = false;
  std::string preset;
  std::string points = "24";
  std::string layers = "8";
  std::string widths;
  std::string batch = "128";
};
constexpr const char* kCurveOnlyFlags[] = {"--preset", "--points", "--layers", "--widths", "--batch"};
void add_curve_flags(CLI::App& app, CurveFlags& flags);
// Prints the table and writes `csv`/`json` (when not empty) atomically; returns the exit code.
// The budget columns minimise `objective`; times are predicted from `profile` (null: the CPU
// reference default).
int run_curve(const CLI::App& app, const ModelFlags& model_flags, const CurveFlags& flags, Objective objective,
              std::shared_ptr<const DeviceProfile> profile, const std::string& csv, const std::string& json);

}  // namespace egc
