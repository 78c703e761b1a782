// egc_train: plans the memory of an MLP training step, prints the schedule, and trains.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/cli.h"
#include "planner/make_plan.h"
#include "planner/report.h"
#include "planner/units.h"
#include "runtime/atomic_file.h"

namespace {

struct TrainFlags {
  egc::ModelFlags model;
  std::string plan = "sqrtn";
  std::string max_memory;
  std::string schedule = "summary";
  std::string report;
  bool dry_run = false;
};

int train_main(const TrainFlags& flags) {
  const egc::ModelSpec model = egc::resolve_model(flags.model);
  const egc::PlanSpec plan_spec = egc::parse_plan(flags.plan);
  const egc::ScheduleDetail detail = egc::parse_schedule_detail(flags.schedule);
  if (!flags.report.empty()) egc::check_writable(flags.report, "--report");

  egc::StepContext context;
  context.dataset_rows = 100000;
  if (!flags.max_memory.empty()) {
    context.memory_limit_bytes = egc::parse_size(flags.max_memory, "--max-memory");
    context.memory_limit_source = egc::MemoryLimitSource::user;
  }
  const egc::Plan plan = egc::make_plan(model, context, plan_spec);
  if (detail != egc::ScheduleDetail::none) std::cout << egc::format_schedule(plan, detail);

  if (!flags.report.empty()) {
    nlohmann::json report = {
        {"egc_report_version", egc::kReportVersion},
        {"config",
         {{"model", egc::model_to_json(model)},
          {"plan", flags.plan},
          {"max_memory_bytes", flags.max_memory.empty() ? nlohmann::json(nullptr)
                                                        : nlohmann::json(context.memory_limit_bytes)},
          {"dry_run", flags.dry_run}}},
        {"plan", egc::plan_to_json(plan)},
    };
    egc::write_file_atomically(flags.report, "--report",
                               [&](std::ostream& out) { out << report.dump(2) << "\n"; });
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"egc_train: train an MLP under a static memory plan (gradient checkpointing)", "egc_train"};
  app.option_defaults()->always_capture_default();
  TrainFlags flags;
  egc::add_model_flags(app, flags.model);
  app.add_option("--plan", flags.plan,
                 "Checkpoint plan: none, sqrtn, every:K, budget:SIZE (least recomputation within an activation "
                 "budget), chen-greedy[:SIZE], auto (fastest plan whose arena fits the memory limit)")
      ->type_name("PLAN");
  app.add_option("--max-memory", flags.max_memory,
                 "Limit for the whole arena, e.g. 8GiB: --plan auto plans within it; other plans must fit it")
      ->type_name("SIZE");
  app.add_option("--schedule", flags.schedule, "Schedule printout: summary, full (one line per op), none")
      ->type_name("DETAIL");
  app.add_option("--report", flags.report, "Write the plan (and results) as JSON to FILE")->type_name("FILE");
  app.add_flag("--dry-run", flags.dry_run, "Plan and print the schedule; do not train");
  return egc::run_app(app, argc, argv, [&] { return train_main(flags); });
}
