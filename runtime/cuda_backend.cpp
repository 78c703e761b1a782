// CudaBackend: the Backend on one CUDA device. One stream and one cuBLAS handle for every op (and
// a second stream for the plan's offload and prefetch copies, ordered by events),
// the kernels of kernels/, device memory from cudaMalloc (counted), scratch from the plan's
// workspace buffer. Host code only: the device code lives in kernels/.
#include "runtime/cuda_backend.h"

#include <cuda.h>  // CUmoduleLoadingMode (the driver is reached through the runtime, not linked)
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/activation.h"
#include "kernels/bias_backward.h"
#include "kernels/cross_entropy.h"
#include "kernels/cuda_check.h"
#include "kernels/gather_rows.h"
#include "kernels/layernorm.h"
#include "kernels/mse_loss.h"
#include "kernels/optimizer.h"
#include "planner/errors.h"
#include "planner/plan.h"
#include "planner/units.h"
#include "runtime/activation_code.h"
#include "runtime/allocation_ledger.h"
#include "runtime/copy_events.h"
#include "runtime/cuda_backend_class.h"
#include "planner/gemm_shapes.h"
#include "runtime/gemm_mapping.h"

namespace egc {
namespace {

// Lazy module loading (CUDA's default since 12.2) loads a module, and allocates device memory
// for it, at the first launch of one of its kernels: inside the first training step, after the
// arena, where the memory proof would count it. egc loads every module eagerly instead
// (CUDA_MODULE_LOADING=EAGER, read by the driver once, when it is initialised, so it is set
// before the process's first CUDA call). It costs start-up time and device memory before the
// baseline, not inside the step. A value already set is kept (gpu-check runs compute-sanitizer
// with LAZY, where no memory is measured); description() says which mode the driver reports.
// The constructor also runs every kernel and GEMM case once (warm_up) for whatever else a
// library sets up at its first call.
void ask_for_eager_module_loading() {
  static const bool asked = [] { return setenv("CUDA_MODULE_LOADING", "EAGER", /*overwrite=*/0) == 0; }();
  (void)asked;
}

std::string module_loading_mode() {
  void* entry = nullptr;
  cudaDriverEntryPointQueryResult found{};
  if (cudaGetDriverEntryPointByVersion("cuModuleGetLoadingMode", &entry, 11070, cudaEnableDefault, &found) !=
          cudaSuccess ||
      found != cudaDriverEntryPointSuccess || entry == nullptr) {
    (void)cudaGetLastError();
    return "unknown";
  }
  CUmoduleLoadingMode mode{};
  if (reinterpret_cast<CUresult (*)(CUmoduleLoadingMode*)>(entry)(&mode) != CUDA_SUCCESS) return "unknown";
  return mode == CU_MODULE_EAGER_LOADING ? "eager" : "lazy";
}

// NVIDIA's cuBLAS guide (cublasSetWorkspace): at least 4 MiB of user workspace, 32 MiB on Hopper.
std::size_t cublas_workspace_bytes_for(int compute_major) {
  return (compute_major >= 9 ? 32 : 4) * (std::size_t{1} << 20);
}


}  // namespace

namespace cuda_detail {

CudaBackend::CudaBackend(const BackendOptions& options) {
  ask_for_eager_module_loading();
  int count = 0;
  EGC_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (options.cuda_device < 0 || options.cuda_device >= count)
    throw UsageError("--device cuda: CUDA device " + std::to_string(options.cuda_device) + " does not exist (" +
                     std::to_string(count) + " found)");
  EGC_CUDA_CHECK(cudaSetDevice(options.cuda_device));
  EGC_CUDA_CHECK(cudaFree(nullptr));  // creates the context now, loading every module (eager)
  cudaDeviceProp properties{};
  EGC_CUDA_CHECK(cudaGetDeviceProperties(&properties, options.cuda_device));
  cublas_workspace_bytes_ = cublas_workspace_bytes_for(properties.major);

  cudaStream_t stream = nullptr;
  EGC_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  stream_.reset(stream);
  EGC_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  copy_stream_.reset(stream);
  compute_done_.reset(EventCreator{}());
  cublasHandle_t handle = nullptr;
  EGC_CUDA_CHECK(cublasCreate(&handle));
  cublas_.reset(handle);
  attach_stream_and_workspace();
  EGC_CUDA_CHECK(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST));
  // Exact float32 unless TF32 was asked for (--tf32); no atomics, so that split-K GEMMs, if
  // cuBLAS picks them, still give the same bits on every run.
  EGC_CUDA_CHECK(cublasSetMathMode(handle, options.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  EGC_CUDA_CHECK(cublasSetAtomicsMode(handle, CUBLAS_ATOMICS_NOT_ALLOWED));
  warm_up();

  description_ = "cuda: " + std::string(properties.name) + " (sm_" + std::to_string(properties.major) +
                 std::to_string(properties.minor) + ", " + std::to_string(properties.multiProcessorCount) +
                 " SMs, " + format_bytes(properties.totalGlobalMem) + "), float32 GEMMs" +
                 (options.tf32 ? " with TF32" : " (no TF32)") + ", module loading " + module_loading_mode();
}

// cublasSetStream resets the handle's workspace to cuBLAS's own pool, so the plan's workspace is
// set again after every cublasSetStream: this is the only place that calls either (release()
// also calls SetStream alone, to drop a workspace that is being freed).
void CudaBackend::attach_stream_and_workspace() {
  EGC_CUDA_CHECK(cublasSetStream(cublas_.get(), stream()));
  if (cublas_workspace_) EGC_CUDA_CHECK(cublasSetWorkspace(cublas_.get(), cublas_workspace_, cublas_workspace_bytes_));
}

std::size_t CudaBackend::workspace_bytes(const Chain& chain) const {
  std::size_t widest = 0, normed = 0;  // the widest bias (a block's inner one too); a LayerNorm's width
  for (const Layer& layer : chain.layers) {
    for (const LinearShape& linear : linear_shapes(layer)) widest = std::max(widest, linear.out);
    if (layer.norm) normed = std::max(normed, layer.in);
  }
  // One op runs at a time on the one stream, so the bias gradient, the loss and LayerNorm's row
  // results share the scratch.
  std::size_t scratch = std::max(cuda::bias_backward_scratch_bytes(chain.batch, widest),
                                 chain.loss == LossKind::cross_entropy
                                     ? cuda::cross_entropy_scratch_bytes(chain.batch)
                                     : cuda::mse_loss_forward_scratch_bytes(chain.batch * chain.out_features));
  if (normed > 0) scratch = std::max(scratch, cuda::layernorm_scratch_bytes_for(chain.batch, normed));
  return cublas_workspace_bytes_ + align_up(scratch, kArenaAlignment);
}

void CudaBackend::bind_workspace(void* workspace, std::size_t bytes) {
  if (workspace == nullptr) {  // unbound: GEMMs and reductions refuse to run (require_workspace)
    cublas_workspace_ = scratch_ = nullptr;
    scratch_bytes_ = 0;
    attach_stream_and_workspace();
    return;
  }
  if (bytes < cublas_workspace_bytes_)
    throw std::logic_error("cuda backend: the plan's workspace holds " + std::to_string(bytes) +
                           " bytes, less than the cuBLAS workspace alone (" + std::to_string(cublas_workspace_bytes_) +
                           "); plan with StepContext::workspace_bytes = backend.workspace_bytes(chain)");
  cublas_workspace_ = workspace;  // 256-aligned: an arena offset or a cudaMalloc result
  scratch_ = static_cast<std::byte*>(workspace) + cublas_workspace_bytes_;
  scratch_bytes_ = bytes - cublas_workspace_bytes_;
  attach_stream_and_workspace();
}

void CudaBackend::require_workspace(const char* op) const {
  if (!cublas_workspace_ && !warming_up_)
    throw std::logic_error(std::string("cuda backend: ") + op +
                           " before a workspace was bound (the plan needs StepContext::workspace_bytes = "
                           "backend.workspace_bytes(chain))");
}

void* CudaBackend::allocate(std::size_t bytes) {
  void* pointer = nullptr;
  const cudaError_t status = cudaMalloc(&pointer, std::max<std::size_t>(bytes, 1));
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // an allocation failure is not sticky: clear it
    std::size_t free = 0, total = 0;
    const bool known = cudaMemGetInfo(&free, &total) == cudaSuccess;
    throw std::runtime_error("cudaMalloc of " + std::to_string(bytes) + " bytes (" + format_bytes(bytes) +
                             ") failed: " + cudaGetErrorString(status) +
                             (known ? "; the device has " + std::to_string(free) + " bytes (" + format_bytes(free) +
                                          ") free of " + format_bytes(total)
                                    : std::string()));
  }
  ledger_.record(pointer, bytes);
  return pointer;
}

void CudaBackend::release(void* pointer) noexcept {
  if (!pointer) return;
  const std::size_t bytes = ledger_.forget(pointer);
  const auto* begin = static_cast<const std::byte*>(pointer);
  const auto* workspace = static_cast<const std::byte*>(cublas_workspace_);
  if (workspace && workspace >= begin && workspace < begin + bytes) {
    // The workspace goes with this allocation (the step memory is being freed): unbind it, so
    // that cuBLAS never writes to freed memory; cublasSetStream resets it to cuBLAS's own pool.
    cublas_workspace_ = scratch_ = nullptr;
    scratch_bytes_ = 0;
    EGC_CUDA_CHECK_NOTHROW(cublasSetStream(cublas_.get(), stream()));
  }
  EGC_CUDA_CHECK_NOTHROW(cudaFree(pointer));
}

// Synchronous on purpose: the caller may reuse the host buffer (the batch indices) as soon as
// this returns, and a pinned staging buffer would be one more allocation to account for. The
// step synchronises on its loss read-back anyway.
void CudaBackend::copy_to_device(void* device_destination, const void* host_source, std::size_t bytes) {
  if (bytes == 0) return;
  EGC_CUDA_CHECK(cudaMemcpyAsync(device_destination, host_source, bytes, cudaMemcpyHostToDevice, stream()));
  EGC_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void CudaBackend::copy_to_host(void* host_destination, const void* device_source, std::size_t bytes) {
  if (bytes == 0) return;
  EGC_CUDA_CHECK(cudaMemcpyAsync(host_destination, device_source, bytes, cudaMemcpyDeviceToHost, stream()));
  EGC_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

// The copy starts once the compute stream has reached this point (compute_done_), runs on the
// copy stream beside later compute, and records its ticket's event for wait_copy.
void CudaBackend::copy_async(std::size_t ticket, void* destination, const void* source, std::size_t bytes,
                             CopyDirection direction) {
  EGC_CUDA_CHECK(cudaEventRecord(compute_done_.get(), stream()));
  EGC_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_.get(), compute_done_.get(), 0));
  if (bytes > 0)
    EGC_CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes,
                                   direction == CopyDirection::to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice,
                                   copy_stream_.get()));
  EGC_CUDA_CHECK(cudaEventRecord(copy_done_.for_copy(ticket), copy_stream_.get()));
}

void CudaBackend::wait_copy(std::size_t ticket) {
  EGC_CUDA_CHECK(cudaStreamWaitEvent(stream(), copy_done_.for_wait(ticket), 0));
}

// Pinned, so that cudaMemcpyAsync copies without staging and overlaps the compute stream.
void* CudaBackend::allocate_host(std::size_t bytes) {
  void* pointer = nullptr;
  const cudaError_t status = cudaHostAlloc(&pointer, std::max<std::size_t>(bytes, 1), cudaHostAllocDefault);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    throw std::runtime_error("cudaHostAlloc of " + std::to_string(bytes) + " bytes (" + format_bytes(bytes) +
                             ") of pinned host memory for the host arena failed: " + cudaGetErrorString(status));
  }
  host_ledger_.record(pointer, bytes);
  return pointer;
}

void CudaBackend::release_host(void* pointer) noexcept {
  if (!pointer) return;
  host_ledger_.forget(pointer);
  EGC_CUDA_CHECK_NOTHROW(cudaFreeHost(pointer));
}

std::optional<std::size_t> CudaBackend::device_free_bytes() {
  std::size_t free = 0, total = 0;
  EGC_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

// The row-major to column-major mapping is runtime/gemm_mapping.h's (tested on the CPU).
void CudaBackend::gemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                       const float* a, const float* b, float beta, float* c) {
  require_workspace("gemm");
  const std::optional<SgemmArguments> call = map_row_major_gemm(transpose_a, transpose_b, m, n, k, a, b);
  if (!call) return;
  const float alpha = 1.0f;
  EGC_CUDA_CHECK(cublasSgemm(cublas_.get(), call->transpose_first ? CUBLAS_OP_T : CUBLAS_OP_N,
                             call->transpose_second ? CUBLAS_OP_T : CUBLAS_OP_N, call->m, call->n, call->k, &alpha,
                             call->first, call->ld_first, call->second, call->ld_second, &beta, c, call->ldc));
}

void CudaBackend::bias_activation_forward(float* out, float* pre, const float* bias, std::size_t rows,
                                          std::size_t cols, Activation activation, const DropoutMask& dropout) {
  cuda::bias_activation_forward(out, pre, bias, rows, cols, activation_code(activation), dropout, stream());
}

void CudaBackend::activation_forward(const float* pre, float* out, std::size_t rows, std::size_t cols,
                                     Activation activation, const DropoutMask& dropout) {
  cuda::activation_forward(pre, out, rows, cols, activation_code(activation), dropout, stream());
}

void CudaBackend::activation_backward(float* grad, const float* saved, std::size_t rows, std::size_t cols,
                                      Activation activation, bool saved_is_pre, const DropoutMask& dropout) {
  cuda::activation_backward(grad, saved, rows, cols, activation_code(activation), saved_is_pre, dropout, stream());
}

void CudaBackend::bias_residual_forward(float* out, const float* bias, const float* residual, std::size_t rows,
                                        std::size_t cols) {
  cuda::bias_residual_forward(out, bias, residual, rows, cols, stream());
}

void CudaBackend::layernorm_forward(const float* x, float* out, float* stats, const float* gamma, const float* beta,
                                    std::size_t rows, std::size_t cols, bool compute_stats) {
  if (!stats) require_workspace("layernorm_forward");
  cuda::layernorm_forward(x, out, stats, gamma, beta, rows, cols, compute_stats, scratch_, scratch_bytes_, stream());
}

void CudaBackend::layernorm_backward(const float* g, const float* x, const float* stats, const float* gamma,
                                     float* grad_x, float* grad_gamma, float* grad_beta, std::size_t rows,
                                     std::size_t cols, bool accumulate, float* scratch) {
  require_workspace("layernorm_backward");
  cuda::layernorm_backward(g, x, stats, gamma, grad_x, grad_gamma, grad_beta, rows, cols, accumulate, scratch, scratch_,
                           scratch_bytes_, stream());
}

void CudaBackend::bias_gradient(const float* grad, float* bias_grad, std::size_t rows, std::size_t cols,
                                bool accumulate) {
  require_workspace("bias_gradient");
  cuda::bias_backward(grad, bias_grad, rows, cols, accumulate, scratch_, scratch_bytes_, stream());
}

void CudaBackend::mse_loss(const float* pred, const float* target, float* loss, float* grad, std::size_t rows,
                           std::size_t cols, float scale) {
  require_workspace("mse_loss");
  cuda::mse_loss_forward(pred, target, loss, rows * cols, scratch_, scratch_bytes_, stream());
  cuda::mse_loss_backward(pred, target, grad, rows * cols, scale, stream());
}

void CudaBackend::cross_entropy_loss(const float* logits, const float* targets, float* loss, float* grad,
                                     std::size_t rows, std::size_t classes, float scale) {
  require_workspace("cross_entropy_loss");
  cuda::cross_entropy_loss(logits, targets, loss, grad, rows, classes, scale, scratch_, scratch_bytes_, stream());
}

void CudaBackend::sgd_update(float* params, const float* grads, float* velocity, std::size_t count,
                             const SgdSettings& settings) {
  cuda::sgd_update(params, grads, velocity, count, settings.lr, settings.momentum, stream());
}

void CudaBackend::adam_update(float* params, const float* grads, float* m, float* v, std::size_t count,
                              const AdamSettings& settings, std::size_t step) {
  cuda::adam_update(params, grads, m, v, count, settings.lr, settings.beta1, settings.beta2, settings.eps, step,
                    stream());
}

void CudaBackend::gather_rows(const float* source, const std::uint32_t* indices, float* destination,
                              std::size_t rows, std::size_t cols) {
  cuda::gather_rows(source, indices, destination, rows, cols, stream());
}

}  // namespace cuda_detail

using cuda_detail::CudaBackend;

bool cuda_device_present(std::string* why) {
  ask_for_eager_module_loading();
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) {
      *why = std::string("no CUDA device: cudaGetDeviceCount failed with ") + cudaGetErrorName(status) + " (" +
             cudaGetErrorString(status) + ")";
      if (status == cudaErrorInsufficientDriver) *why += ": no NVIDIA driver, or one older than this CUDA runtime";
    }
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device: the driver reports none";
    return false;
  }
  return true;
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

void* cuda_stream(Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (!cuda) throw std::logic_error("cuda_stream: not a CUDA backend");
  return cuda->stream();
}

}  // namespace egc
