// egc_bench --curve: print and serialise the curve.
#include "apps/curve_command.h"

#include <cstdio>
#include <iostream>
#include <sstream>

#include "planner/errors.h"
#include "planner/report.h"
#include "planner/units.h"
#include "runtime/atomic_file.h"

namespace egc {
namespace {

// "64x1024", "32x(2048,128)", or the run lengths: "3x2048,128,5x2048,...".
std::string describe_widths(const std::vector<std::size_t>& widths) {
  for (std::size_t period = 1; period <= 8 && period < widths.size(); ++period) {
    if (widths.size() % period != 0) continue;
    if (!std::equal(widths.begin() + period, widths.end(), widths.begin())) continue;
    std::string pattern;
    for (std::size_t i = 0; i < period; ++i) pattern += (i ? "," : "") + std::to_string(widths[i]);
    return std::to_string(widths.size() / period) + "x" + (period > 1 ? "(" + pattern + ")" : pattern);
  }
  std::string text;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    std::size_t run = 1;
    while (i + run < widths.size() && widths[i + run] == widths[i]) ++run;
    if (!text.empty()) text += ",";
    text += (run > 1 ? std::to_string(run) + "x" : "") + std::to_string(widths[i]);
    i += run - 1;
    if (text.size() > 90) return text + ",...";
  }
  return text;
}

nlohmann::json point_json(const std::optional<CurvePoint>& point) {
  if (!point) return nullptr;
  return {{"plan", point->plan},
          {"activation_peak_bytes", point->activation_peak_bytes},
          {"recompute_flops", point->recompute_flops}};
}

nlohmann::json timed_json(const TimedPoint& timed) {
  nlohmann::json point = point_json(timed.point);
  point["predicted_step_ms"] = timed.predicted_step_ms;
  return point;
}

// "12.345 ms (+3.2%)": a predicted step time and how much longer than none's it is.
std::string time_cell(double ms, double none_ms) {
  char extra[32];
  std::snprintf(extra, sizeof extra, " (+%.1f%%)", none_ms > 0 ? 100.0 * (ms - none_ms) / none_ms : 0.0);
  return format_ms(ms) + extra;
}

// The predicted step time of both objectives' budget plans at every budget of the curve.
std::string format_time_curve(const Curve& curve) {
  std::ostringstream out;
  out << "\nPredicted step time against activation budget (profile: " << curve.profile_name << "); none: "
      << format_ms(curve.none_step_ms) << "\n  budget plans of --objective time and --objective flops, each "
      << "with its recomputation and its time over none's\n\n";
  out << "  " << pad_left("budget", 12) << pad_left("time: recompute", 17) << pad_left("step", 22)
      << pad_left("flops: recompute", 18) << pad_left("step", 22) << "\n";
  for (const CurveRow& row : curve.rows) {
    out << "  " << pad_left(format_bytes(row.budget_bytes), 12);
    for (const TimedPoint* timed : {&row.by_time, &row.by_flops})
      out << pad_left(format_percent(timed->point.recompute_flops, curve.forward_flops), timed == &row.by_time ? 17 : 18)
          << pad_left(time_cell(timed->predicted_step_ms, curve.none_step_ms), 22);
    out << "\n";
  }
  return out.str();
}

}  // namespace

std::string format_curve(const Curve& curve) {
  std::ostringstream out;
  const ModelSpec& m = curve.model;
  out << "Recomputation against activation budget" << (curve.preset.empty() ? "" : " (preset " + curve.preset + ")")
      << ": " << curve.layers << " layers, hidden widths " << describe_widths(m.hidden_widths) << ", in "
      << m.in_features << ", out " << m.out_features << ", " << to_string(m.activation) << ", batch " << m.batch
      << (m.block == BlockKind::residual ? std::string(", residual blocks (") + to_string(m.norm) + ", inner " +
                                               std::to_string(m.expand) + " x width)"
                                         : std::string())
      << "\n  one forward pass: " << curve.forward_flops << " FLOPs; smallest feasible budget "
      << format_bytes(curve.min_feasible_bytes) << "; none's activation peak " << format_bytes(curve.none_peak_bytes)
      << "\n  recomputation in % of a forward pass; '-' where a plan of that kind does not fit\n\n";
  out << "  " << pad_left("budget", 12) << pad_left("budget plan", 14) << pad_left("chen-greedy", 14) << pad_left("best every:K", 22)
      << pad_left("sqrtn", 10) << "\n";
  auto cell = [&](const std::optional<CurvePoint>& p, bool with_name) {
    if (!p) return std::string("-");
    return format_percent(p->recompute_flops, curve.forward_flops) + (with_name ? " (" + p->plan + ")" : "");
  };
  for (const CurveRow& row : curve.rows) {
    out << "  " << pad_left(format_bytes(row.budget_bytes), 12)
        << pad_left(format_percent(row.budget.recompute_flops, curve.forward_flops), 14) << pad_left(cell(row.chen_greedy, false), 14)
        << pad_left(cell(row.every, true), 22) << pad_left(cell(row.sqrtn, false), 10) << "\n";
  }
  out << "\n  " << pad_right("fixed plan", 14) << pad_left("activation peak", 16) << pad_left("recompute", 12)
      << pad_left("budget plan at that peak", 26) << "\n";
  for (const FixedPlanPoint& f : curve.fixed) {
    out << "  " << pad_right(f.point.plan, 14) << pad_left(format_bytes(f.point.activation_peak_bytes), 16)
        << pad_left(format_percent(f.point.recompute_flops, curve.forward_flops), 12)
        << pad_left(format_percent(f.budget_recompute_flops, curve.forward_flops), 26) << "\n";
  }
  out << format_time_curve(curve);  // after the recomputation tables, which stay as they were
  return out.str();
}

std::string curve_to_csv(const Curve& curve) {
  std::ostringstream out;
  out << "plan,budget_bytes,activation_peak_bytes,recompute_flops,recompute_percent,predicted_step_ms\n";
  auto line = [&](const std::string& plan, const std::string& budget, const CurvePoint& p, std::optional<double> ms) {
    char percent_text[32], ms_text[32] = "";
    std::snprintf(percent_text, sizeof percent_text, "%.4f", percent_of(p.recompute_flops, curve.forward_flops));
    if (ms) std::snprintf(ms_text, sizeof ms_text, "%.6f", *ms);
    out << plan << "," << budget << "," << p.activation_peak_bytes << "," << p.recompute_flops << "," << percent_text
        << "," << ms_text << "\n";
  };
  for (const CurveRow& row : curve.rows) {
    const std::string budget = std::to_string(row.budget_bytes);
    line("budget", budget, row.budget, std::nullopt);
    if (row.chen_greedy) line("chen-greedy", budget, *row.chen_greedy, std::nullopt);
    if (row.every) line("best-every", budget, *row.every, std::nullopt);
    line("budget-time", budget, row.by_time.point, row.by_time.predicted_step_ms);
    line("budget-flops", budget, row.by_flops.point, row.by_flops.predicted_step_ms);
  }
  for (const FixedPlanPoint& f : curve.fixed) line(f.point.plan, "", f.point, std::nullopt);
  return out.str();
}

nlohmann::json curve_to_json(const Curve& curve) {
  nlohmann::json rows = nlohmann::json::array();
  for (const CurveRow& row : curve.rows) {
    rows.push_back({{"budget_bytes", row.budget_bytes},
                    {"budget", point_json(row.budget)},
                    {"chen_greedy", point_json(row.chen_greedy)},
                    {"best_every", point_json(row.every)},
                    {"sqrtn", point_json(row.sqrtn)},
                    {"budget_time", timed_json(row.by_time)},
                    {"budget_flops", timed_json(row.by_flops)}});
  }
  nlohmann::json fixed = nlohmann::json::array();
  for (const FixedPlanPoint& f : curve.fixed) {
    nlohmann::json point = point_json(f.point);
    point["budget_recompute_flops"] = f.budget_recompute_flops;
    fixed.push_back(point);
  }
  return {{"egc_curve_version", 1},
          {"preset", curve.preset},
          {"model", model_to_json(curve.model)},
          {"layers", curve.layers},
          {"forward_flops", curve.forward_flops},
          {"min_feasible_bytes", curve.min_feasible_bytes},
          {"none_activation_peak_bytes", curve.none_peak_bytes},
          {"none_predicted_step_ms", curve.none_step_ms},
          {"profile", curve.profile_name},
          {"objective", to_string(curve.objective)},
          {"rows", rows},
          {"fixed", fixed}};
}

void add_curve_flags(CLI::App& app, CurveFlags& flags) {
  const char* group = "Curve (--curve)";
  app.add_flag("--curve", flags.curve,
               "Recomputation against activation budget for budget, chen-greedy, sqrtn and every:K, instead of a sweep")
      ->group(group);
  app.add_option("--preset", flags.preset,
                 "The model: equal64 (64 hidden layers of 1024) or unequal (64 hidden layers alternating 2048 and "
                 "128), instead of --layers/--width/--widths/--in/--out")
      ->type_name("NAME")
      ->group(group);
  app.add_option("--points", flags.points, "Budgets in the sweep, from the smallest feasible to none's peak")
      ->type_name("N")
      ->group(group);
  app.add_option("--layers", flags.layers, "Hidden layers of the model")->type_name("N")->group(group);
  app.add_option("--widths", flags.widths, "Unequal hidden widths, comma-separated (replaces --layers and --width)")
      ->type_name("W1,W2,...")
      ->group(group);
  app.add_option("--batch", flags.batch, "Samples per batch")->type_name("B")->group(group);
}

int run_curve(const CLI::App& app, const ModelFlags& model_flags, const CurveFlags& flags, Objective objective,
              std::shared_ptr<const DeviceProfile> profile, const std::string& csv, const std::string& json) {
  if (!model_flags.widths.empty() && (app.count("--layers") > 0 || app.count("--width") > 0))
    throw UsageError("--widths: replaces --layers and --width; give one or the other");
  ModelSpec model = resolve_model(model_flags);
  if (!flags.preset.empty()) {
    for (const char* flag : {"--layers", "--width", "--widths", "--in", "--out"})
      if (app.count(flag) > 0)
        throw UsageError("--preset: sets the widths, --in and --out itself; drop " + std::string(flag));
    model = curve_preset(flags.preset, model);
  }
  const std::size_t points = parse_positive(flags.points, "--points");
  if (!csv.empty()) check_writable(csv, "--csv");
  if (!json.empty()) check_writable(json, "--json");

  StepContext context;
  context.objective = objective;
  context.profile = profile;
  const Curve curve = compute_curve(model, points, flags.preset, context);
  std::cout << format_curve(curve);
  if (!csv.empty()) write_file_atomically(csv, "--csv", [&](std::ostream& out) { out << curve_to_csv(curve); });
  if (!json.empty())
    write_file_atomically(json, "--json", [&](std::ostream& out) { out << curve_to_json(curve).dump(2) << "\n"; });
  return 0;
}

}  // namespace egc
