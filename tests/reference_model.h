// The float64 reference path of the gradient tests: loss and parameter gradients of a whole chain
// (plain layers, residual blocks, either loss), written unit by unit with the CPU math templates
// in double, independently of the planner's schedules and the executor.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "planner/chain.h"
#include "kernels/dropout.h"
#include "runtime/cpu_math.h"

namespace egc::testing {

// What the reference needs besides the chain: the batch and its targets, and the dropout key of
// the executor's micro-batch (MicroBatch: seed, step, micro-batch) with its probability.
struct ReferenceBatch {
  std::vector<double> x;  // batch x in
  std::vector<double> y;  // batch x target columns (class indices for cross-entropy)
  double dropout = 0;
  std::uint64_t dropout_seed = 0;
  std::size_t step = 1, micro = 0;
};

class ReferenceModel {
 public:
  explicit ReferenceModel(const Chain& chain) : chain_(chain) {
    std::size_t largest = 0;
    for (const Layer& layer : chain.layers)
      for (const LinearShape& shape : linear_shapes(layer)) largest = std::max(largest, shape.in * shape.out);
    scratch_.resize(largest);
  }

  // The loss of the batch; with `grads`, also the gradient of every parameter (flat layout).
  double loss(const std::vector<double>& params, const ReferenceBatch& batch, std::vector<double>* grads) {
    const std::size_t rows = chain_.batch, n = chain_.size();
    inputs_.assign(n + 1, {});
    pres_.assign(n, {});
    normed_.assign(n, {});
    stats_.assign(n, {});
    inputs_[0] = batch.x;
    batch_ = &batch;
    for (std::size_t i = 0; i < n; ++i) forward(chain_.layers[i], params, i);
    double value = 0;
    std::vector<double> grad(rows * chain_.out_features);
    if (chain_.loss == LossKind::cross_entropy)
      cpu::cross_entropy_loss<double>(inputs_[n].data(), batch.y.data(), &value, grad.data(), rows, chain_.out_features, 1.0);
    else
      cpu::mse_loss<double>(inputs_[n].data(), batch.y.data(), &value, grad.data(), rows, chain_.out_features, 1.0);
    if (!grads) return value;
    grads->assign(params.size(), 0.0);
    for (std::size_t i = n; i-- > 0;) backward(chain_.layers[i], params, i, grad, *grads);
    return value;
  }

  // The dropout mask of unit i, as the executor keys it.
  math::DropoutMask mask(std::size_t i) const {
    if (!chain_.layers[i].dropout) return {};
    return math::dropout_mask(batch_->dropout, batch_->dropout_seed, batch_->step, batch_->micro, i);
  }

 private:
  // Linear(in, out) of a unit: out[rows x out] = in W^T + b.
  void linear(const double* in, std::size_t n_in, std::size_t n_out, const double* weight, const double* bias,
              std::vector<double>& out) {
    out.assign(chain_.batch * n_out, 0.0);
    cpu::gemm<double>(false, true, chain_.batch, n_out, n_in, in, weight, 0.0, out.data(), scratch_.data());
    cpu::bias_activation_forward<double>(out.data(), nullptr, bias, chain_.batch, n_out, math::kIdentity);
  }

  // dW += g^T x, db += column sums of g, and (when dx) dx = g W.
  void linear_backward(const std::vector<double>& g, const double* x, std::size_t n_in, std::size_t n_out,
                       const double* weight, double* dweight, double* dbias, std::vector<double>* dx) {
    const std::size_t rows = chain_.batch;
    cpu::gemm<double>(true, false, n_out, n_in, rows, g.data(), x, 1.0, dweight, scratch_.data());
    cpu::bias_gradient<double>(g.data(), dbias, rows, n_out, true);
    if (!dx) return;
    dx->assign(rows * n_in, 0.0);
    cpu::gemm<double>(false, false, rows, n_in, n_out, g.data(), weight, 0.0, dx->data(), scratch_.data());
  }

  // activation and dropout of `pre` into out (the dropped activation).
  void activate(const Layer& layer, std::size_t i, const std::vector<double>& pre, std::vector<double>& out) const {
    const math::DropoutMask m = mask(i);
    out.resize(pre.size());
    for (std::size_t e = 0; e < pre.size(); ++e)
      out[e] = math::activate_dropped(static_cast<int>(layer.activation), pre[e], m.keep(e), static_cast<double>(m.scale));
  }
  // dL/d pre-activation from dL/d dropped activation, in place.
  void activation_gradient(const Layer& layer, std::size_t i, const std::vector<double>& pre,
                           std::vector<double>& grad) const {
    const math::DropoutMask m = mask(i);
    for (std::size_t e = 0; e < pre.size(); ++e)
      grad[e] = math::dropped_gradient(static_cast<int>(layer.activation), grad[e], pre[e], true, m.keep(e),
                                       static_cast<double>(m.scale));
  }

  // Unit i from inputs_[i] into inputs_[i + 1]; keeps what its backward needs.
  void forward(const Layer& layer, const std::vector<double>& params, std::size_t i) {
    const double* p = params.data();
    const std::vector<double>& x = inputs_[i];
    std::vector<double>& out = inputs_[i + 1];
    if (layer.kind == UnitKind::linear) {
      linear(x.data(), layer.in, layer.out, p + layer.weight_offset, p + layer.bias_offset, pres_[i]);
      activate(layer, i, pres_[i], out);
      return;
    }
    const std::size_t rows = chain_.batch;
    normed_[i] = x;
    if (layer.norm) {
      stats_[i].assign(2 * rows, 0.0);
      cpu::layernorm_forward<double>(x.data(), normed_[i].data(), stats_[i].data(), p + layer.norm_weight_offset,
                                     p + layer.norm_bias_offset, rows, layer.in, true);
    }
    linear(normed_[i].data(), layer.in, layer.inner, p + layer.weight_offset, p + layer.bias_offset, pres_[i]);
    std::vector<double> dropped;
    activate(layer, i, pres_[i], dropped);
    linear(dropped.data(), layer.inner, layer.out, p + layer.weight2_offset, p + layer.bias2_offset, out);
    for (std::size_t e = 0; e < out.size(); ++e) out[e] += x[e];  // the residual
  }

  // From grad = dL/d output of unit i to dL/d its input (left in grad), parameter gradients added.
  void backward(const Layer& layer, const std::vector<double>& params, std::size_t i, std::vector<double>& grad,
                std::vector<double>& grads) {
    const double* p = params.data();
    double* dp = grads.data();
    if (layer.kind == UnitKind::linear) {
      activation_gradient(layer, i, pres_[i], grad);
      std::vector<double> next;
      linear_backward(grad, inputs_[i].data(), layer.in, layer.out, p + layer.weight_offset, dp + layer.weight_offset,
                      dp + layer.bias_offset, i > 0 ? &next : nullptr);
      grad.swap(next);
      return;
    }
    const std::size_t rows = chain_.batch;
    std::vector<double> dropped, inner_grad, normed_grad;
    activate(layer, i, pres_[i], dropped);
    linear_backward(grad, dropped.data(), layer.inner, layer.out, p + layer.weight2_offset, dp + layer.weight2_offset,
                    dp + layer.bias2_offset, &inner_grad);
    activation_gradient(layer, i, pres_[i], inner_grad);
    linear_backward(inner_grad, normed_[i].data(), layer.in, layer.inner, p + layer.weight_offset,
                    dp + layer.weight_offset, dp + layer.bias_offset, &normed_grad);
    if (!layer.norm) {
      for (std::size_t e = 0; e < grad.size(); ++e) grad[e] += normed_grad[e];
      return;
    }
    cpu::layernorm_backward<double>(normed_grad.data(), inputs_[i].data(), stats_[i].data(), p + layer.norm_weight_offset,
                                    grad.data(), dp + layer.norm_weight_offset, dp + layer.norm_bias_offset, rows,
                                    layer.in, true);
  }

  const Chain& chain_;
  const ReferenceBatch* batch_ = nullptr;
  std::vector<double> scratch_;
  // Per unit: its input, its pre-activation (a block's inner one), a block's norm output and statistics.
  std::vector<std::vector<double>> inputs_, pres_, normed_, stats_;
};

// ||a - b|| / ||b||.
inline double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return std::sqrt(diff / norm);
}

}  // namespace egc::testing
