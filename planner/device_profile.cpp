// Device profiles: kernel costs, GEMM interpolation over the calibrated grid, JSON.
#include "planner/device_profile.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "planner/errors.h"

namespace egc {
namespace {

using Grid = KernelTimer::Grid;

bool same_case(const GemmShape& a, const GemmShape& b) {
  return a.transpose_a == b.transpose_a && a.transpose_b == b.transpose_b;
}

std::vector<std::size_t> values_of(const std::vector<GemmSample>& samples, std::size_t GemmShape::*dim) {
  std::vector<std::size_t> values;
  for (const GemmSample& s : samples) values.push_back(s.shape.*dim);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::size_t index_of(const std::vector<std::size_t>& values, std::size_t value) {
  return static_cast<std::size_t>(std::lower_bound(values.begin(), values.end(), value) - values.begin());
}

// The samples of one transpose case as a complete grid; UsageError naming `what` otherwise.
Grid grid_of(const std::vector<GemmSample>& all, const GemmShape& case_of, const std::string& what) {
  std::vector<GemmSample> samples;
  for (const GemmSample& s : all)
    if (same_case(s.shape, case_of)) samples.push_back(s);
  const std::string name = std::string("gemm (") + (case_of.transpose_a ? "T" : "N") + "," +
                           (case_of.transpose_b ? "T" : "N") + ")";
  if (samples.empty()) throw UsageError(what + ": the profile has no " + name + " samples; recalibrate");
  Grid grid{values_of(samples, &GemmShape::m), values_of(samples, &GemmShape::n), values_of(samples, &GemmShape::k), {}};
  grid.log_us.assign(grid.m.size() * grid.n.size() * grid.k.size(), std::nan(""));
  for (const GemmSample& s : samples) {
    if (!(s.microseconds > 0)) throw UsageError(what + ": a " + name + " sample takes no time");
    grid.log_us[(index_of(grid.m, s.shape.m) * grid.n.size() + index_of(grid.n, s.shape.n)) * grid.k.size() +
                index_of(grid.k, s.shape.k)] = std::log(s.microseconds);
  }
  for (double value : grid.log_us)
    if (std::isnan(value)) throw UsageError(what + ": the " + name + " samples do not form a complete grid");
  return grid;
}

// The bracketing grid index below `value` (clamped) and the weight of the one above, in log space.
std::pair<std::size_t, double> bracket(const std::vector<std::size_t>& values, double value) {
  if (values.size() == 1 || value <= static_cast<double>(values.front())) return {0, 0.0};
  if (value >= static_cast<double>(values.back())) return {values.size() - 2, 1.0};
  std::size_t i = index_of(values, static_cast<std::size_t>(std::ceil(value))) - 1;
  const double low = std::log(static_cast<double>(values[i])), high = std::log(static_cast<double>(values[i + 1]));
  return {i, (std::log(value) - low) / (high - low)};
}

// Trilinear in (log m, log n, log k) of log(time) on the grid; beyond the grid's largest values,
// the time grows with the FLOPs (the rate of the grid's edge).
double gemm_us(const Grid& grid, const GemmShape& shape) {
  double scale = 1;
  const auto clamp = [&scale](const std::vector<std::size_t>& values, std::size_t v) {
    const double largest = static_cast<double>(values.back());
    if (static_cast<double>(v) > largest) scale *= static_cast<double>(v) / largest;
    return std::min(static_cast<double>(v), largest);
  };
  const auto [im, wm] = bracket(grid.m, clamp(grid.m, shape.m));
  const auto [in, wn] = bracket(grid.n, clamp(grid.n, shape.n));
  const auto [ik, wk] = bracket(grid.k, clamp(grid.k, shape.k));
  double log_us = 0;
  for (int dm = 0; dm < 2; ++dm)
    for (int dn = 0; dn < 2; ++dn)
      for (int dk = 0; dk < 2; ++dk) {
        const double weight = (dm ? wm : 1 - wm) * (dn ? wn : 1 - wn) * (dk ? wk : 1 - wk);
        if (weight == 0) continue;
        const std::size_t m = std::min(im + dm, grid.m.size() - 1), n = std::min(in + dn, grid.n.size() - 1),
                          k = std::min(ik + dk, grid.k.size() - 1);
        log_us += weight * grid.log_us[(m * grid.n.size() + n) * grid.k.size() + k];
      }
  return std::exp(log_us) * scale;
}

}  // namespace

double KernelCost::microseconds(double units) const {
  if (samples.empty()) return 0;
  if (units <= samples.front().units || samples.size() == 1) return samples.front().microseconds;
  std::size_t i = 1;
  while (i + 1 < samples.size() && samples[i].units < units) ++i;
  const KernelSample& a = samples[i - 1];
  const KernelSample& b = samples[i];
  return a.microseconds + (units - a.units) * (b.microseconds - a.microseconds) / (b.units - a.units);
}

KernelTimer::KernelTimer(const DeviceProfile& profile, const std::string& what) : profile_(profile) {
  for (const GemmShape& used : {GemmShape{false, true, 1, 1, 1}, GemmShape{true, false, 1, 1, 1},
                                GemmShape{false, false, 1, 1, 1}})
    grids_[{used.transpose_a, used.transpose_b}] = grid_of(profile.gemm, used, what);
}

double KernelTimer::ms(const KernelCall& call) const {
  if (call.kind == KernelKind::gemm) {
    if (call.gemm.m == 0 || call.gemm.n == 0) return 0;
    if (call.gemm.k == 0) return profile_.gemm_fixed_us / 1000.0;
    const auto grid = grids_.find({call.gemm.transpose_a, call.gemm.transpose_b});
    if (grid == grids_.end()) throw std::logic_error("KernelTimer: a GEMM case the executor does not use");
    return gemm_us(grid->second, call.gemm) / 1000.0;
  }
  const auto found = profile_.kernels.find(call.cost_key());
  if (found == profile_.kernels.end())
    throw UsageError("profile '" + profile_.name + "': no cost for kernel " + call.cost_key() + "; recalibrate");
  return found->second.microseconds(static_cast<double>(call.units)) / 1000.0;
}

nlohmann::json profile_to_json(const DeviceProfile& profile) {
  nlohmann::json gemm = nlohmann::json::array();
  for (const GemmSample& s : profile.gemm)
    gemm.push_back({{"transpose_a", s.shape.transpose_a},
                    {"transpose_b", s.shape.transpose_b},
                    {"m", s.shape.m},
                    {"n", s.shape.n},
                    {"k", s.shape.k},
                    {"microseconds", s.microseconds}});
  nlohmann::json kernels = nlohmann::json::object();
  for (const auto& [key, cost] : profile.kernels) {
    nlohmann::json samples = nlohmann::json::array();
    for (const KernelSample& s : cost.samples) samples.push_back({s.units, s.microseconds});
    kernels[key] = {{"samples", samples}};
  }
  return {{"egc_profile_version", 1},   {"name", profile.name},
          {"source", profile.source},   {"gemm_fixed_us", profile.gemm_fixed_us},
          {"gemm", gemm},               {"kernels", kernels}};
}

DeviceProfile profile_from_json(const nlohmann::json& json, const std::string& what) {
  DeviceProfile profile;
  try {
    if (json.at("egc_profile_version").get<int>() != 1)
      throw UsageError(what + ": egc_profile_version " + json.at("egc_profile_version").dump() + " (1 is read)");
    profile.name = json.at("name").get<std::string>();
    profile.source = json.at("source").get<std::string>();
    profile.gemm_fixed_us = json.at("gemm_fixed_us").get<double>();
    for (const nlohmann::json& s : json.at("gemm"))
      profile.gemm.push_back({{s.at("transpose_a").get<bool>(), s.at("transpose_b").get<bool>(), s.at("m").get<std::size_t>(),
                               s.at("n").get<std::size_t>(), s.at("k").get<std::size_t>()},
                              s.at("microseconds").get<double>()});
    for (const auto& [key, cost] : json.at("kernels").items())
      for (const nlohmann::json& sample : cost.at("samples"))
        profile.kernels[key].samples.push_back({sample.at(0).get<double>(), sample.at(1).get<double>()});
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(what + ": not a device profile (" + std::string(e.what()) + ")");
  }
  if (!(profile.gemm_fixed_us >= 0)) throw UsageError(what + ": gemm_fixed_us is negative");
  for (const auto& [key, cost] : profile.kernels) {
    if (cost.samples.empty()) throw UsageError(what + ": kernel " + key + " has no samples");
    for (std::size_t i = 0; i < cost.samples.size(); ++i) {
      const KernelSample& s = cost.samples[i];
      if (!(s.units >= 0) || !(s.microseconds >= 0)) throw UsageError(what + ": kernel " + key + " has a negative sample");
      if (i > 0 && !(s.units > cost.samples[i - 1].units))
        throw UsageError(what + ": kernel " + key + "'s samples are not in increasing units");
    }
  }
  KernelTimer(profile, what);  // complete grids for the executor's three cases
  return profile;
}

}  // namespace egc
