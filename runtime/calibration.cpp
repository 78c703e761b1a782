// calibrate: timed backend calls on buffers the backend allocates, median per figure.
#include "runtime/calibration.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <stdexcept>

#include "kernels/dropout.h"
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

// The buffers and shape of one kernel measurement: `units` elements as rows of kCols floats.
struct KernelBench {
  static constexpr std::size_t kCols = 256;  // the element-wise and row-wise kernels' row length
  Backend& backend;
  const CalibrationOptions& options;
  std::size_t units, cols, rows;
  Scratch a, b, c, d, e;  // d is non-negative (Adam's v, LayerNorm's statistics)

  KernelBench(Backend& backend_, const CalibrationOptions& options_, std::size_t units_)
      : backend(backend_),
        options(options_),
        units(units_),
        cols(std::min(kCols, std::max<std::size_t>(units_, 1))),
        rows(std::max<std::size_t>(units_ / cols, 1)),
        a(backend_, units_),
        b(backend_, units_),
        c(backend_, units_),
        d(backend_, units_, /*non_negative=*/true),
        e(backend_, units_) {}

  template <class Call>
  double in_place(Call call) {  // a and b restored before every timed call
    return median_us(backend, options, call, [&] {
      a.restore();
      b.restore();
      d.restore();
    });
  }
  double activation_kernel(const KernelCall& call);
  double row_kernel(const KernelCall& call);
  double other_kernel(const KernelCall& call);
};

// bias_activation, activation_forward, activation_backward: variant "act[+pre][+dropout]".
double KernelBench::activation_kernel(const KernelCall& call) {
  const Activation activation =
      find_name(kActivationNames, call.variant.substr(0, call.variant.find('+'))).value_or(Activation::identity);
  const bool pre = call.variant.find("+pre") != std::string::npos;
  const DropoutMask mask = call.variant.find("+dropout") != std::string::npos ? math::dropout_mask(0.1, 7, 1, 0, 0)
                                                                              : DropoutMask{};
  switch (call.kind) {
    case KernelKind::bias_activation:
      return in_place([&] {
        backend.bias_activation_forward(a.get(), pre ? b.get() : nullptr, c.get(), rows, cols, activation, mask);
      });
    case KernelKind::activation_forward:
      return in_place([&] { backend.activation_forward(b.get(), a.get(), rows, cols, activation, mask); });
    default:
      return in_place([&] { backend.activation_backward(a.get(), b.get(), rows, cols, activation, pre, mask); });
  }
}

// The row-wise kernels: LayerNorm, the residual epilogue, the column sums, the losses.
double KernelBench::row_kernel(const KernelCall& call) {
  switch (call.kind) {
    case KernelKind::layernorm_forward: {
      const bool compute = call.variant == "compute";
      return in_place([&] { backend.layernorm_forward(b.get(), a.get(), d.get(), c.get(), c.get(), rows, cols, compute); });
    }
    case KernelKind::layernorm_backward:
      return in_place([&] {
        backend.layernorm_backward(a.get(), b.get(), d.get(), c.get(), e.get(), c.get() + cols, c.get() + 2 * cols, rows,
                                   cols, false, b.get());
      });
    case KernelKind::bias_residual:
      return in_place([&] { backend.bias_residual_forward(a.get(), c.get(), b.get(), rows, cols); });
    case KernelKind::bias_gradient:
      return median_us(backend, options, [&] { backend.bias_gradient(a.get(), c.get(), rows, cols, false); });
    case KernelKind::mse_loss:
      return median_us(backend, options, [&] { backend.mse_loss(a.get(), b.get(), d.get(), c.get(), rows, cols, 1.0f); });
    default: {  // cross_entropy_loss over rows of kCols classes, targets spread over the classes
      std::vector<float> targets(rows);
      for (std::size_t i = 0; i < rows; ++i) targets[i] = static_cast<float>((i * 37) % cols);
      backend.copy_to_device(e.get(), targets.data(), rows * sizeof(float));
      return median_us(backend, options,
                       [&] { backend.cross_entropy_loss(a.get(), e.get(), d.get(), c.get(), rows, cols, 1.0f); });
    }
  }
}

// The optimizer updates, the batch gather, the copies.
double KernelBench::other_kernel(const KernelCall& call) {
  switch (call.kind) {
    case KernelKind::sgd_update: {
      float* velocity = call.variant == "momentum" ? c.get() : nullptr;
      return in_place([&] { backend.sgd_update(a.get(), b.get(), velocity, units, SgdSettings{1e-6f, 0.5f}); });
    }
    case KernelKind::adam_update:
      return in_place([&] { backend.adam_update(a.get(), b.get(), c.get(), d.get(), units, AdamSettings{}, 1); });
    case KernelKind::gather_rows: {
      // Rows of `cols` floats gathered in a shuffled order.
      std::vector<std::uint32_t> order(rows);
      for (std::size_t i = 0; i < rows; ++i) order[i] = static_cast<std::uint32_t>((i * 2654435761u) % rows);
      backend.copy_to_device(e.get(), order.data(), rows * sizeof(std::uint32_t));
      const auto* indices = reinterpret_cast<const std::uint32_t*>(e.get());
      return median_us(backend, options, [&] { backend.gather_rows(a.get(), indices, b.get(), rows, cols); });
    }
    default: {  // the copies; units are bytes
      std::vector<float> host(std::max<std::size_t>(units / sizeof(float), 1), 0.5f);
      const std::size_t bytes = std::max<std::size_t>(units, 1);
      if (call.kind == KernelKind::copy_to_device)
        return median_us(backend, options, [&] { backend.copy_to_device(a.get(), host.data(), bytes); });
      return median_us(backend, options, [&] { backend.copy_to_host(host.data(), a.get(), bytes); });
    }
  }
}

// Runs `call` (a KernelCall's kind and variant) on `call.units` units of scratch memory.
double time_kernel(Backend& backend, const CalibrationOptions& options, const KernelCall& call) {
  KernelBench bench(backend, options, call.units);
  switch (call.kind) {
    case KernelKind::bias_activation:
    case KernelKind::activation_forward:
    case KernelKind::activation_backward: return bench.activation_kernel(call);
    case KernelKind::layernorm_forward:
    case KernelKind::layernorm_backward:
    case KernelKind::bias_residual:
    case KernelKind::bias_gradient:
    case KernelKind::mse_loss:
    case KernelKind::cross_entropy_loss: return bench.row_kernel(call);
    case KernelKind::gemm: break;
    default: return bench.other_kernel(call);
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
  for (const EnumName<Activation>& a : kActivationNames)
    for (const bool dropout : {false, true}) {
      add(KernelKind::activation_forward, activation_variant(a.value, false, dropout));
      for (const bool pre : {false, true}) {
        add(KernelKind::bias_activation, activation_variant(a.value, pre, dropout));
        add(KernelKind::activation_backward, activation_variant(a.value, pre, dropout));
      }
    }
  add(KernelKind::bias_residual, "");
  add(KernelKind::layernorm_forward, "compute");
  add(KernelKind::layernorm_forward, "from-stats");
  add(KernelKind::layernorm_backward, "");
  add(KernelKind::bias_gradient, "");
  add(KernelKind::mse_loss, "");
  add(KernelKind::cross_entropy_loss, "");
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
