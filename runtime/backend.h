// Backend: the ops one MLP training step needs, on one device. Two implementations: cpu (the
// reference: plain, obviously correct) and cuda (kernels/ + cuBLAS + CUB). All tensors are
// float32, row-major, and live in memory the backend allocated; calls may be asynchronous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "kernels/dropout.h"
#include "planner/chain.h"
#include "planner/model_spec.h"

namespace egc {

enum class DeviceKind { cpu, cuda, simulated };

enum class CopyDirection { to_host, to_device };

using math::DropoutMask;

struct SgdSettings {
  float lr = 0.01f;
  float momentum = 0.9f;  // 0: no velocity buffer
};

struct AdamSettings {
  float lr = 0.001f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceKind device() const = 0;
  virtual std::string description() const = 0;  // "cpu (reference)", "cuda: NVIDIA H200 (sm_90)"

  // Scratch the backend needs inside the arena for this chain (cuBLAS workspace, CUB
  // temporary storage); becomes the plan's workspace buffer. 0 on the CPU.
  virtual std::size_t workspace_bytes(const Chain& chain) const = 0;
  // Hands the backend its workspace slice of the arena (called once after allocation).
  virtual void bind_workspace(void* workspace, std::size_t bytes) = 0;
  // Runs what a step of `chain` runs once (each distinct GEMM shape), before anything is
  // measured, so that what a library sets up at a first call (cuBLAS choosing kernels for a
  // shape) happens outside the measured steps; what it allocates for that, it frees. Nothing on
  // the host.
  virtual void warm_up(const Chain& chain) { (void)chain; }

  // Device memory. allocate() never returns nullptr: it throws std::runtime_error (or
  // std::bad_alloc) with the byte count when memory is short.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void release(void* pointer) noexcept = 0;
  virtual void copy_to_device(void* device_destination, const void* host_source, std::size_t bytes) = 0;
  virtual void copy_to_host(void* host_destination, const void* device_source, std::size_t bytes) = 0;
  virtual void synchronize() = 0;

  // The plan's copy stream (offload and prefetch ops, planner/copy_ops.h). copy_async: a copy
  // that starts once every call made so far has finished and may run beside the calls made after
  // it; `ticket` (the op's index) names it until the next copy with that ticket. wait_copy: the
  // calls made after it start once copy `ticket` has finished. Copies run in the order they
  // were made. The default is a synchronous copy with nothing to wait for.
  virtual void copy_async(std::size_t ticket, void* destination, const void* source, std::size_t bytes,
                          CopyDirection direction) {
    (void)ticket;
    if (direction == CopyDirection::to_host)
      copy_to_host(destination, source, bytes);
    else
      copy_to_device(destination, source, bytes);
  }
  virtual void wait_copy(std::size_t ticket) { (void)ticket; }
  // Host memory for the plan's host arena (pinned on CUDA, so that copies run asynchronously),
  // counted apart from allocate()'s: throws like allocate() when memory is short.
  virtual void* allocate_host(std::size_t bytes) = 0;
  virtual void release_host(void* pointer) noexcept = 0;
  virtual std::size_t host_allocated_bytes() const = 0;
  // Bytes currently held through allocate(), and the most ever held at once: the backend's
  // own count of what it was asked for (the exact host measurement).
  virtual std::size_t allocated_bytes() const = 0;
  virtual std::size_t peak_allocated_bytes() const = 0;
  // Restarts the peak from what is allocated now (each measurement starts its own peak).
  virtual void reset_peak_allocated_bytes() = 0;
  // Free device memory as the device reports it (cudaMemGetInfo); nullopt on the CPU.
  virtual std::optional<std::size_t> device_free_bytes() = 0;

  // C[m x n] = op(A) op(B) + beta C, with op(X) = X or X^T; A is m x k after op, B is k x n.
  // Row-major, leading dimensions are the stored row lengths.
  virtual void gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                    const float* a, const float* b, float beta, float* c) = 0;
  // out[rows x cols] holds X W^T. Adds the bias to every row, then applies the activation and
  // the dropout mask (kernels/dropout.h; DropoutMask{}: none). With pre != nullptr, pre receives
  // the pre-activation (X W^T + b) as well.
  virtual void bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows,
                                       std::size_t cols, Activation activation, const DropoutMask& dropout) = 0;
  // out[rows x cols] = dropout(activation(pre)): what a block's backward recomputes from its tape.
  virtual void activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols,
                                  Activation activation, const DropoutMask& dropout) = 0;
  // grad[rows x cols]: dL/d (dropped) output -> dL/d pre-activation, in place: dropout's backward
  // (x scale, or 0) then x activation'(saved). saved is the layer's output (relu, tanh) or, with
  // saved_is_pre, its pre-activation (GELU always); nothing to do for identity without dropout.
  virtual void activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols,
                                   Activation activation, bool saved_is_pre, const DropoutMask& dropout) = 0;
  // out[rows x cols] += bias (by column) + residual: the epilogue of a residual block.
  virtual void bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                                     std::size_t cols) = 0;
  // LayerNorm (eps 1e-5) of every row of x[rows x cols]: out = (x - mean) rstd gamma + beta.
  // stats[2 rows] = mean[rows] then rstd[rows]: with compute_stats computed from x (and written
  // unless stats is null), otherwise read (a backward recomputing the output from its tape).
  virtual void layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                                 std::size_t rows, std::size_t cols, bool compute_stats) = 0;
  // LayerNorm's backward for output gradient g[rows x cols]: grad_x += dL/dx (it may hold the
  // residual's gradient already); grad_gamma, grad_beta[cols] = the column sums of g x-hat and g
  // (added to them when accumulate). scratch: rows x cols floats the backend may overwrite.
  virtual void layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma,
                                  float* grad_x, float* grad_gamma, float* grad_beta, std::size_t rows,
                                  std::size_t cols, bool accumulate, float* scratch) = 0;
  // bias_grad[cols] = column sums of grad[rows x cols], added to bias_grad when accumulate.
  virtual void bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols,
                             bool accumulate) = 0;
  // loss[0] = mean of (pred - target)^2 over rows x cols (torch.nn.MSELoss);
  // grad = scale * 2 (pred - target) / (rows x cols), the gradient of scale * loss.
  virtual void mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows,
                        std::size_t cols, float scale) = 0;
  // Softmax cross-entropy (torch.nn.CrossEntropyLoss, reduction 'mean') of logits[rows x classes]
  // against targets[rows], class indices stored as floats (exact below 2^24, checked in [0,
  // classes) when the data is loaded): loss[0] = the mean loss; loss[1], read as a uint32, the
  // rows whose largest logit (the first of equal ones) is the target; grad = scale * (softmax -
  // one_hot) / rows, the gradient of scale * loss.
  virtual void cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad,
                                  std::size_t rows, std::size_t classes, float scale) = 0;
  // One fused sweep over all `count` parameters.
  virtual void sgd_update(float* params, const float* grads, float* velocity, std::size_t count,
                          const SgdSettings& settings) = 0;
  virtual void adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                           const AdamSettings& settings, std::size_t step) = 0;
  // destination[r, :] = source[indices[r], :] for r < rows; rows of `cols` floats.
  virtual void gather_rows(const float* source, const std::uint32_t* indices, float* destination,
                           std::size_t rows, std::size_t cols) = 0;
};

}  // namespace egc
