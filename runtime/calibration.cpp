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
#include "runtime/random.h"

namespace egc {
namespace {

// Device memory for one measurement, holding values spread as a layer's are (uniform in
// [-1, 1]): transcendental functions cost less near 0, denormals more, so constants would
// mislead. restore() puts the values back: kernels that work in place would otherwise drift.
class Scratch {
 public:
  // non_negative: in [0, 1] (Adam's second moment).
  Scratch(Backend& backend, std::size_t floats, bool non_negative = false)
      : backend_(backend), values_(std::max<std::size_t>(floats, 1)) {
    Random random(derive_seed(values_.size(), 17));
    for (float& value : values_) value = static_cast<float>(random.uniform(non_negative ? 0 : -1, 1));
    pointer_ = static_cast<float*>(backend.allocate(values_.size() * sizeof(float)));
    restore();
  }
  ~Scratch() { backend_.release(pointer_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* get() const { return pointer_; }
  void restore() { backend_.copy_to_device(pointer_, values_.data(), values_.size() * sizeof(float)); }

 private:
  Backend& backend_;
  std::vector<float> values_;
  float* pointer_ = nullptr;
};

// The median time of `call` in microseconds: one warm-up call, then up to `repeats` timed ones,
// each after an untimed `prepare` (the inputs restored).
template <class Call, class Prepare>
double median_us(Backend& backend, const CalibrationOptions& options, Call call, Prepare prepare) {
  using Clock = std::chrono::steady_clock;
  prepare();
  call();
  backend.synchronize();
  std::vector<double> us;
  const Clock::time_point begin = Clock::now();
  for (std::size_t i = 0; i < options.repeats; ++i) {
    prepare();
    backend.synchronize();
    const Clock::time_point start = Clock::now();
    call();
    backend.synchronize();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (std::chrono::duration<double>(Clock::now() - begin).count() > options.seconds_per_figure) break;
  }
  return std::max(median(us), 1e-3);
}
template <class Call>
double median_us(Backend& backend, const CalibrationOptions& options, Call call) {
  return median_us(backend, options, call, [] {});
}

// Runs `call` (a KernelCall's kind and variant) on `units` units of scratch memory.
double time_kernel(Backend& backend, const CalibrationOptions& options, const KernelCall& call) {
  constexpr std::size_t kCols = 256;  // the element-wise and row-wise kernels' row length
  const std::size_t units = call.units;
  const std::size_t cols = std::min(kCols, units), rows = std::max<std::size_t>(units / std::max<std::size_t>(cols, 1), 1);
  Scratch a(backend, units), b(backend, units), c(backend, units), d(backend, units, /*non_negative=*/true);
  const auto restore = [&] {  // the kernels below write a (and b) in place
    a.restore();
    b.restore();
  };
  // bias_activation's and activation_backward's variant: the activation, "+pre" keeping the pre-activation.
  const Activation activation =
      find_name(kActivationNames, call.variant.substr(0, call.variant.find('+'))).value_or(Activation::identity);
  switch (call.kind) {
    case KernelKind::bias_activation: {
      float* pre = call.variant.find("+pre") != std::string::npos ? b.get() : nullptr;
      return median_us(backend, options, [&] { backend.bias_activation_forward(a.get(), pre, c.get(), rows, cols, activation); },
                       restore);
    }
    case KernelKind::activation_backward:
      return median_us(backend, options, [&] { backend.activation_backward(a.get(), b.get(), rows, cols, activation); },
                       restore);
    case KernelKind::bias_gradient:
      return median_us(backend, options, [&] { backend.bias_gradient(a.get(), c.get(), rows, cols, false); });
    case KernelKind::mse_loss:
      return median_us(backend, options, [&] { backend.mse_loss(a.get(), b.get(), d.get(), c.get(), rows, cols, 1.0f); });
    case KernelKind::sgd_update: {
      float* velocity = call.variant == "momentum" ? c.get() : nullptr;
      return median_us(backend, options, [&] { backend.sgd_update(a.get(), b.get(), velocity, units, SgdSettings{1e-6f, 0.5f}); },
                       restore);
    }
    case KernelKind::adam_update:
      return median_us(backend, options, [&] { backend.adam_update(a.get(), b.get(), c.get(), d.get(), units, AdamSettings{}, 1); },
                       [&] { restore(); d.restore(); });
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

// The kernel's time at every size of the options (copies: 4 bytes per element).
KernelCost measure_cost(Backend& backend, const CalibrationOptions& options, KernelCall call) {
  const std::size_t bytes_per_unit =
      call.kind == KernelKind::copy_to_device || call.kind == KernelKind::copy_to_host ? sizeof(float) : 1;
  KernelCost cost;
  for (const std::size_t size : options.kernel_sizes) {
    call.units = size * bytes_per_unit;
    cost.samples.push_back({static_cast<double>(call.units), time_kernel(backend, options, call)});
  }
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
  if (options.gemm_sizes.empty() || options.kernel_sizes.empty()) throw std::invalid_argument("calibrate: no sizes");
  if (!std::is_sorted(options.kernel_sizes.begin(), options.kernel_sizes.end()))
    throw std::invalid_argument("calibrate: kernel sizes must increase");
  // The CPU backend needs its workspace (a transposed weight matrix) for the GEMMs.
  ModelSpec widest;
  const std::size_t largest = *std::max_element(options.gemm_sizes.begin(), options.gemm_sizes.end());
  widest.in_features = widest.out_features = largest;
  widest.hidden_widths = {largest};
  const std::size_t most_elements = *std::max_element(options.kernel_sizes.begin(), options.kernel_sizes.end());
  widest.batch = std::max<std::size_t>(largest, most_elements / 256 + 1);
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
      profile.kernels[call.cost_key()] = measure_cost(backend, options, call);
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
