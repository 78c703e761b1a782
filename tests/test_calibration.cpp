// The time model's link to the runtime: the backend calls a step makes are the op kernels the
// model prices; a calibration on the CPU gives a complete, loadable profile; the shipped profiles
// price every kernel a step can call.
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "planner/make_plan.h"
#include "planner/op_kernels.h"
#include "runtime/calibration.h"
#include "runtime/dataset.h"
#include "runtime/cpu_backend.h"
#include "runtime/forwarding_backend.h"
#include "runtime/session.h"

using namespace egc;

namespace {

// Records every backend call of a step as a KernelCall (kind, units, GEMM shape), with the op it
// belongs to (set through the executor's hook; -1 outside ops).
class CallRecorder final : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  struct Recorded {
    long op;
    KernelCall call;
  };
  std::vector<Recorded> calls;
  long op = -1;
  bool recording = false;

  void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, const float* b, float beta,
            float* c) override {
    KernelCall call;
    call.gemm = {ta, tb, m, n, k};
    add(call);
    ForwardingBackend::gemm(ta, tb, m, n, k, a, b, beta, c);
  }
  void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows, std::size_t cols,
                               Activation activation, const DropoutMask& dropout) override {
    add(KernelKind::bias_activation, rows * cols);
    ForwardingBackend::bias_activation_forward(out, pre, bias, rows, cols, activation, dropout);
  }
  void activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols, Activation activation,
                          const DropoutMask& dropout) override {
    add(KernelKind::activation_forward, rows * cols);
    ForwardingBackend::activation_forward(pre, out, rows, cols, activation, dropout);
  }
  void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols, Activation activation,
                           bool saved_is_pre, const DropoutMask& dropout) override {
    add(KernelKind::activation_backward, rows * cols);
    ForwardingBackend::activation_backward(grad, saved, rows, cols, activation, saved_is_pre, dropout);
  }
  void bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                             std::size_t cols) override {
    add(KernelKind::bias_residual, rows * cols);
    ForwardingBackend::bias_residual_forward(out, bias, residual, rows, cols);
  }
  void layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                         std::size_t rows, std::size_t cols, bool compute_stats) override {
    add(KernelKind::layernorm_forward, rows * cols);
    ForwardingBackend::layernorm_forward(x, out, stats, gamma, beta, rows, cols, compute_stats);
  }
  void layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma, float* grad_x,
                          float* grad_gamma, float* grad_beta, std::size_t rows, std::size_t cols, bool accumulate,
                          float* scratch) override {
    add(KernelKind::layernorm_backward, rows * cols);
    ForwardingBackend::layernorm_backward(g, x, stats, gamma, grad_x, grad_gamma, grad_beta, rows, cols, accumulate,
                                          scratch);
  }
  void cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad, std::size_t rows,
                          std::size_t classes, float scale) override {
    add(KernelKind::cross_entropy_loss, rows * classes);
    ForwardingBackend::cross_entropy_loss(logits, targets, loss, grad, rows, classes, scale);
  }
  void bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols, bool accumulate) override {
    add(KernelKind::bias_gradient, rows * cols);
    ForwardingBackend::bias_gradient(grad, bias_grad, rows, cols, accumulate);
  }
  void mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows, std::size_t cols,
                float scale) override {
    add(KernelKind::mse_loss, rows * cols);
    ForwardingBackend::mse_loss(pred, target, loss, grad, rows, cols, scale);
  }
  void sgd_update(float* p, const float* g, float* v, std::size_t count, const SgdSettings& s) override {
    add(KernelKind::sgd_update, count);
    ForwardingBackend::sgd_update(p, g, v, count, s);
  }
  void adam_update(float* p, const float* g, float* m, float* v, std::size_t count, const AdamSettings& s,
                   std::size_t step) override {
    add(KernelKind::adam_update, count);
    ForwardingBackend::adam_update(p, g, m, v, count, s, step);
  }
  void gather_rows(const float* source, const std::uint32_t* indices, float* destination, std::size_t rows,
                   std::size_t cols) override {
    add(KernelKind::gather_rows, rows * cols);
    ForwardingBackend::gather_rows(source, indices, destination, rows, cols);
  }
  void copy_to_device(void* destination, const void* source, std::size_t bytes) override {
    add(KernelKind::copy_to_device, bytes);
    ForwardingBackend::copy_to_device(destination, source, bytes);
  }
  void copy_to_host(void* destination, const void* source, std::size_t bytes) override {
    add(KernelKind::copy_to_host, bytes);
    ForwardingBackend::copy_to_host(destination, source, bytes);
  }

 private:
  void add(KernelKind kind, std::size_t units) {
    KernelCall call;
    call.kind = kind;
    call.units = units;
    add(call);
  }
  void add(const KernelCall& call) {
    if (recording) calls.push_back({op, call});
  }
};

bool same_call(const KernelCall& a, const KernelCall& b) {
  return a.kind == b.kind && (a.kind == KernelKind::gemm ? a.gemm == b.gemm : a.units == b.units);
}

}  // namespace

TEST_CASE("a step's backend calls are the op kernels and batch loads the time model prices, plain (with derive ops) and residual") {
  CpuBackend cpu;
  CallRecorder recorder(cpu);
  for (const bool residual : {false, true}) {
    ModelSpec model;
    model.in_features = 3;
    model.hidden_widths = {5, 7, 6};
    model.out_features = 2;
    model.batch = 16;
    model.activation = Activation::gelu;
    model.optimizer = residual ? Optimizer::adam : Optimizer::sgd;
    if (residual) {  // LayerNorm, dropout and cross-entropy too
      model.block = BlockKind::residual;
      model.hidden_widths = {6, 6, 6};
      model.expand = 2;
      model.dropout = 0.25;
      model.loss = LossKind::cross_entropy;
      model.out_features = 3;
    }
    Dataset data = make_synthetic_for(model, 64, 0.1, 3);
    split_dataset(data, 0.0, 3);
    // The plain GELU chain's plan re-derives outputs from pre-activations (derive ops) too.
    const Plan plan = plan_run(model, data, recorder, parse_plan(residual ? "sqrtn" : "sqrtn+derive"));
    CHECK((plan.derived_outputs > 0) == !residual);
    Session session(plan, recorder, data, TrainSettings{});
    session.trainer().executor().set_hook([&](std::size_t op, bool after) { recorder.op = after ? -1 : long(op); });
    recorder.recording = true;
    session.trainer().train_step();
    recorder.recording = false;
    // Expected: the batch load, every op's kernels in order, the loss read back.
    std::vector<std::pair<long, KernelCall>> expected;
    for (const KernelCall& call : batch_load_kernels(plan, model.batch)) expected.push_back({-1, call});
    for (std::size_t op = 0; op < plan.ops.size(); ++op)
      for (const KernelCall& call : op_kernels(plan, op, model.batch)) expected.push_back({long(op), call});
    for (const KernelCall& call : loss_readback_kernels(plan)) expected.push_back({-1, call});
    // With per-layer updates every op belongs to the micro-batch; the loss is read after them all.
    REQUIRE(recorder.calls.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      INFO("call " << i << ": op " << expected[i].first << " " << expected[i].second.cost_key());
      CHECK(recorder.calls[i].op == expected[i].first);
      CHECK(same_call(recorder.calls[i].call, expected[i].second));
    }
    recorder.calls.clear();
  }
}

TEST_CASE("calibration on the CPU: a complete profile that loads and prices a plan") {
  CpuBackend cpu;
  CalibrationOptions options;
  options.gemm_sizes = {1, 8};
  options.kernel_sizes = {1, 4096};
  options.repeats = 2;
  const DeviceProfile profile = calibrate(cpu, options);
  CHECK(profile.gemm.size() == 3 * 8);  // three transpose cases, 2^3 shapes each
  for (const KernelCall& call : calibrated_kernels(1)) CHECK(profile.kernels.count(call.cost_key()) == 1);
  const DeviceProfile loaded = profile_from_json(profile_to_json(profile), "calibrated");
  StepContext context;
  context.profile = std::make_shared<const DeviceProfile>(loaded);
  ModelSpec model;
  model.activation = Activation::tanh;
  model.optimizer = Optimizer::adam;
  CHECK(make_plan(model, context, parse_plan("sqrtn")).predicted_step_ms > 0);
  CHECK(cpu.allocated_bytes() == 0);  // every buffer of the calibration released
}

TEST_CASE("the shipped profiles price every kernel a step can call") {
  for (const DeviceProfile* profile : {&default_cpu_profile(), &default_h200_profile()}) {
    const KernelTimer timer(*profile, profile->name);
    for (const KernelCall& call : calibrated_kernels(1000)) {
      INFO(profile->name << ": " << call.cost_key());
      CHECK(timer.ms(call) > 0);
    }
  }
}
