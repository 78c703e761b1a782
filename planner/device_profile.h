// DeviceProfile: what the time of a kernel depends on, for one device: GEMM throughput over a grid
// of shapes (interpolated between them), the fixed and per-unit cost of every other kernel
// (element-wise and row-wise ops, optimizer updates, gathers, host<->device copies), as measured
// by egc_bench --calibrate or shipped as a default (profiles/*.json). Read from and written to JSON.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/op_kernels.h"

namespace egc {

// A kernel's time measured at a few sizes (units: elements, parameters or bytes, as KernelCall
// says), in increasing units; between two samples the time is linear in the units (so two samples
// are "fixed + per unit"), below the first it is the first's, beyond the last it grows at the
// last segment's rate per unit. Several sizes, because a tensor that fits a cache costs less
// per element than one streamed from memory.
struct KernelSample {
  double units = 0;
  double microseconds = 0;
};
struct KernelCost {
  std::vector<KernelSample> samples;
  double microseconds(double units) const;
};

// One measured GEMM: its shape and how long it took, fixed cost included.
struct GemmSample {
  GemmShape shape;
  double microseconds = 0;
};

struct DeviceProfile {
  std::string name;    // "cpu reference backend", "NVIDIA H200"
  std::string source;  // how the figures were obtained: "calibrated on ... (egc_bench --calibrate)", "default"
  double gemm_fixed_us = 0;           // a GEMM's cost beyond its FLOPs (a launch, a call)
  std::vector<GemmSample> gemm;       // a full grid per transpose case (values of m, n and k)
  std::map<std::string, KernelCost> kernels;  // by KernelCall::cost_key()
};

// A profile's predictions, in milliseconds per call. A GEMM interpolates log(time) of its
// transpose case's grid linearly in log m, log n and log k (a power law between grid points),
// and beyond the grid's largest values grows with the FLOPs; every other kernel is its
// KernelCost at its units. The constructor checks the grids of the executor's three GEMM cases (UsageError
// naming `what`); ms() throws UsageError naming a kernel the profile has no cost for.
class KernelTimer {
 public:
  KernelTimer(const DeviceProfile& profile, const std::string& what);
  double ms(const KernelCall& call) const;
  const DeviceProfile& profile() const { return profile_; }

  struct Grid {
    std::vector<std::size_t> m, n, k;  // sorted grid values
    std::vector<double> log_us;        // [(im * n.size() + in) * k.size() + ik]
  };

 private:
  DeviceProfile profile_;
  std::map<std::pair<bool, bool>, Grid> grids_;  // by (transpose_a, transpose_b)
};

// JSON (egc_profile_version 1); the parser throws UsageError naming `what` (the flag or file)
// for a malformed or incomplete profile (a GEMM grid that is not complete, a negative cost).
nlohmann::json profile_to_json(const DeviceProfile& profile);
DeviceProfile profile_from_json(const nlohmann::json& json, const std::string& what);

// The shipped defaults, compiled in from profiles/cpu-reference.json and profiles/h200.json.
const DeviceProfile& default_cpu_profile();
const DeviceProfile& default_h200_profile();

}  // namespace egc
