// egc_bench: egc's benchmarks. For now one mode, --curve (apps/budget_curve.h).
#include <CLI/CLI.hpp>

#include "apps/budget_curve.h"
#include "apps/cli.h"
#include "planner/errors.h"

int main(int argc, char** argv) {
  CLI::App app{"egc_bench: benchmarks of egc's memory plans", "egc_bench"};
  app.option_defaults()->always_capture_default();
  egc::ModelFlags model;
  egc::CurveFlags curve;
  egc::add_model_flags(app, model);
  egc::add_curve_flags(app, curve);
  return egc::run_app(app, argc, argv, [&] {
    if (!curve.curve) throw egc::UsageError("no mode given: --curve is the one egc_bench has so far");
    return egc::run_curve(app, model, curve);
  });
}
