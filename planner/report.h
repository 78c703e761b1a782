// Report: the plan as people read it (breakdown table, one line per segment or per op with a
// bar proportional to live bytes, the peak) and as scripts read it (JSON).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/enum_names.h"
#include "planner/model_spec.h"
#include "planner/plan.h"

namespace egc {

constexpr int kReportVersion = 1;

enum class ScheduleDetail { summary, full, none };
inline constexpr EnumName<ScheduleDetail> kScheduleDetailNames[] = {
    {ScheduleDetail::summary, "summary"}, {ScheduleDetail::full, "full"}, {ScheduleDetail::none, "none"}};
static_assert(names_in_order(kScheduleDetailNames) && count_of(kScheduleDetailNames) == 1 + int(ScheduleDetail::none));
ScheduleDetail parse_schedule_detail(std::string_view text, std::string_view flag = "--schedule");

// "0-6,8,10-12"
std::string format_layer_ranges(const std::vector<std::size_t>& layers);

// A bar of at most `width` cells, its length proportional to (base + part) / max: '.' cells
// for base (what is alive at every op: parameters, optimizer state, data) and '#' for part
// (activations and their gradients), so the shape of the schedule shows.
std::string format_bar(std::size_t base, std::size_t part, std::size_t max, std::size_t width);

std::string format_breakdown(const Plan& plan);
std::string format_ms(double ms);  // "1.234 ms", "12.3 ms"
std::string format_segments(const Plan& plan);  // one line per forward pass, segment, update
std::string format_ops(const Plan& plan);       // one line per op
// Header, breakdown and (by detail) segments or ops, then the peak and arena lines.
std::string format_schedule(const Plan& plan, ScheduleDetail detail);

nlohmann::json model_to_json(const ModelSpec& model);
nlohmann::json plan_to_json(const Plan& plan);

}  // namespace egc
