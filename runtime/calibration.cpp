// calibrate: timed backend calls on buffers the backend allocates, median per figure.
#include "runtime/calibration.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <stdexcept>

#include "planner/chain.h"
#include "planner/errors.h"
#include "planner/units.h"
#include "runtime/measured_steps.h"

namespace egc {
namespace {

// Device memory for one measurement, filled with small values (no overflow in any kernel).
class Scratch {
 public:
  Scratch(Backend& backend, std::size_t floats) : backend_(backend), floats_(std::max<std::size_t>(floats, 1)) {
    pointer_ = static_cast<float*>(backend.allocate(floats_ * sizeof(float)));
    const std::vector<float> values(floats_, 0.25f);
    backend.copy_to_device(pointer_, values.data(), floats_ * sizeof(float));
  }
  ~Scratch() { backend_.release(pointer_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* get() const { return pointer_; }

 private:
  Backend& backend_;
  std::size_t floats_;
  float* pointer_ = nullptr;
};

// The median time of `call` in microseconds: one warm-up call, then up to `repeats` timed ones.
template <class Call>
double median_us(Backend& backend, const CalibrationOptions& options, Call call) {
  using Clock = std::chrono::steady_clock;
  call();
  backend.synchronize();
  std::vector<double> us;
  const Clock::time_point begin = Clock::now();
  for (std::size_t i = 0; i < options.repeats; ++i) {
    const Clock::time_point start = Clock::now();
    call();
    backend.synchronize();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (std::chrono::duration<double>(Clock::now() - begin).count() > options.seconds_per_figure) break;
  }
  return std::max(median(us), 1e-3);
}

// Runs `call` (a KernelCall's kind and variant) on `units` units of scratch memory.
double time_kernel(Backend& backend, const CalibrationOptions& options, const KernelCall& call) {
  constexpr std::size_t kCols = 256;  // the element-wise and row-wise kernels' row length
  const std::size_t units = call.units;
  const std::size_t cols = std::min(kCols, units), rows = std::max<std::size_t>(units / std::max<std::size_t>(cols, 1), 1);
  Scratch a(backend, units), b(backend, units), c(backend, units), d(backend, units);
  // bias_activation's and activation_backward's variant: the activation, "+pre" keeping the pre-activation.
  const Activation activation =
      find_name(kActivationNames, call.variant.substr(0, call.variant.find('+'))).value_or(Activation::identity);
  switch (call.kind) {
    case KernelKind::bias_activation: {
      float* pre = call.variant.find("+pre") != std::string::npos ? b.get() : nullptr;
      return median_us(backend, options, [&] { backend.bias_activation_forward(a.get(), pre, c.get(), rows, cols, activation); });
    }
    case KernelKind::activation_backward:
      return median_us(backend, options, [&] { backend.activation_backward(a.get(), b.get(), rows, cols, activation); });
    case KernelKind::bias_gradient:
      return median_us(backend, options, [&] { backend.bias_gradient(a.get(), c.get(), rows, cols, false); });
    case KernelKind::mse_loss:
      return median_us(backend, options, [&] { backend.mse_loss(a.get(), b.get(), d.get(), c.get(), rows, cols, 1.0f); });
    case KernelKind::sgd_update: {
      float* velocity = call.variant == "momentum" ? c.get() : nullptr;
      return median_us(backend, options, [&] { backend.sgd_update(a.get(), b.get(), velocity, units, SgdSettings{1e-6f, 0.5f}); });
    }
    case KernelKind::adam_update:
      return median_us(backend, options, [&] { backend.adam_update(a.get(), b.get(), c.get(), d.get(), units, AdamSettings{}, 1); });
    case KernelKind::gather_rows: {
      // Rows of `cols` floats gathered in a shuffled order from a source twice their number.
      std::vector<std::uint32_t> order(rows);
      for (std::size_t i = 0; i < rows; ++i) order[i] = static_cast<std::uint32_t>((i * 2654435761u) % rows);
      backend.copy_to_device(d.get(), order.data(), rows * sizeof(std::uint32_t));
      const auto* indices = reinterpret_cast<const std::uint32_t*>(d.get());
      return median_us(backend, options, [&] { backend.gather_rows(a.get(), indices, b.get(), rows, cols); });
    }
    case KernelKind::copy_to_device:
    case KernelKind::copy_to_host: {
      std::vector<float> host(std::max<std::size_t>(units / sizeof(float), 1), 0.5f);
      const std::size_t bytes = std::max<std::size_t>(units, 1);
      if (call.kind == KernelKind::copy_to_device)
        return median_us(backend, options, [&] { backend.copy_to_device(a.get(), host.data(), bytes); });
      return median_us(backend, options, [&] { backend.copy_to_host(host.data(), a.get(), bytes); });
    }
    case KernelKind::gemm: break;
  }
  throw std::logic_error("time_kernel: a GEMM goes through the grid");
}

// fixed + units * per_unit through the times of a small and a large call.
KernelCost fit_cost(Backend& backend, const CalibrationOptions& options, KernelCall call) {
  const std::size_t small = call.kind == KernelKind::copy_to_device || call.kind == KernelKind::copy_to_host ? 4 : 1;
  const std::size_t large = options.large_elements * (small == 4 ? sizeof(float) : 1);
  call.units = small;
  const double small_us = time_kernel(backend, options, call);
  call.units = large;
  const double large_us = time_kernel(backend, options, call);
  KernelCost cost;
  cost.per_unit_ns = std::max(0.0, (large_us - small_us) * 1000.0 / static_cast<double>(large - small));
  cost.fixed_us = std::max(0.0, small_us - static_cast<double>(small) * cost.per_unit_ns / 1000.0);
  return cost;
}

std::vector<GemmSample> gemm_grid(Backend& backend, const CalibrationOptions& options,
                                  const std::function<void(const std::string&)>& progress) {
  const std::size_t largest = *std::max_element(options.gemm_sizes.begin(), options.gemm_sizes.end());
  Scratch a(backend, largest * largest), b(backend, largest * largest), c(backend, largest * largest);
  std::vector<GemmSample> samples;
  for (const auto& [ta, tb] : {std::pair{false, true}, std::pair{true, false}, std::pair{false, false}}) {
    if (progress) progress(std::string("gemm (") + (ta ? "T" : "N") + "," + (tb ? "T" : "N") + ") over " +
                           std::to_string(options.gemm_sizes.size()) + "^3 shapes");
    for (std::size_t m : options.gemm_sizes)
      for (std::size_t n : options.gemm_sizes)
        for (std::size_t k : options.gemm_sizes) {
          const GemmShape shape{ta, tb, m, n, k};
          samples.push_back({shape, median_us(backend, options, [&] {
                               backend.gemm(ta, tb, m, n, k, a.get(), b.get(), 0.0f, c.get());
                             })});
        }
  }
  return samples;
}

// The smallest GEMM's time: what a GEMM costs beyond its FLOPs.
double gemm_fixed_us(const std::vector<GemmSample>& samples) {
  double fixed = samples.front().microseconds;
  for (const GemmSample& s : samples) fixed = std::min(fixed, s.microseconds);
  return fixed;
}

}  // namespace

DeviceProfile calibrate(Backend& backend, const CalibrationOptions& options,
                        const std::function<void(const std::string&)>& progress) {
  if (options.gemm_sizes.empty()) throw std::invalid_argument("calibrate: no GEMM sizes");
  // The CPU backend needs its workspace (a transposed weight matrix) for the GEMMs.
  ModelSpec widest;
  const std::size_t largest = *std::max_element(options.gemm_sizes.begin(), options.gemm_sizes.end());
  widest.in_features = widest.out_features = largest;
  widest.hidden_widths = {largest};
  widest.batch = std::max<std::size_t>(largest, options.large_elements / 256 + 1);
  const std::size_t workspace_bytes = backend.workspace_bytes(build_chain(widest));
  void* workspace = backend.allocate(workspace_bytes);
  backend.bind_workspace(workspace, workspace_bytes);
  DeviceProfile profile;
  profile.name = backend.description();
  try {
    profile.gemm = gemm_grid(backend, options, progress);
    profile.gemm_fixed_us = gemm_fixed_us(profile.gemm);
    for (const KernelCall& call : calibrated_kernels(0)) {
      if (progress) progress(call.cost_key());
      profile.kernels[call.cost_key()] = fit_cost(backend, options, call);
    }
  } catch (...) {
    backend.bind_workspace(nullptr, 0);
    backend.release(workspace);
    throw;
  }
  backend.bind_workspace(nullptr, 0);
  backend.release(workspace);
  return profile;
}

std::vector<KernelCall> calibrated_kernels(std::size_t units) {
  std::vector<KernelCall> calls;
  auto add = [&](KernelKind kind, std::string variant) {
    KernelCall call;
    call.kind = kind;
    call.variant = std::move(variant);
    call.units = units;
    calls.push_back(call);
  };
  for (const EnumName<Activation>& a : kActivationNames) {
    add(KernelKind::bias_activation, a.name);
    add(KernelKind::bias_activation, std::string(a.name) + "+pre");
    if (a.value != Activation::identity) add(KernelKind::activation_backward, a.name);
  }
  add(KernelKind::bias_gradient, "");
  add(KernelKind::mse_loss, "");
  add(KernelKind::sgd_update, "momentum");
  add(KernelKind::sgd_update, "plain");
  add(KernelKind::adam_update, "");
  add(KernelKind::gather_rows, "");
  add(KernelKind::copy_to_device, "");
  add(KernelKind::copy_to_host, "");
  return calls;
}

std::shared_ptr<const DeviceProfile> default_profile(const Backend& backend) {
  return std::make_shared<const DeviceProfile>(backend.device() == DeviceKind::cuda ? default_h200_profile()
                                                                                    : default_cpu_profile());
}

std::shared_ptr<const DeviceProfile> load_profile(const std::string& path, const std::string& flag) {
  std::ifstream file(path);
  if (!file) throw UsageError(flag + ": cannot read '" + path + "'");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(file);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(flag + ": '" + path + "' is not JSON (" + e.what() + ")");
  }
  return std::make_shared<const DeviceProfile>(profile_from_json(json, flag + " " + path));
}

}  // namespace egc
