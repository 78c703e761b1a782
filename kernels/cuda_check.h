// Checks for CUDA runtime and cuBLAS calls: a failure throws std::runtime_error naming the
// failing expression, file:line and the library's own error name and text (never exit()); in
// destructors and cleanup paths, which must not throw, it is logged instead.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

namespace egc::cuda {

inline std::string error_text(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
}
inline std::string error_text(cublasStatus_t status) {
  return std::string(cublasGetStatusName(status)) + ": " + cublasGetStatusString(status);
}
inline bool failed(cudaError_t status) { return status != cudaSuccess; }
inline bool failed(cublasStatus_t status) { return status != CUBLAS_STATUS_SUCCESS; }

[[noreturn]] inline void throw_failure(const char* expression, const char* file, int line, const std::string& error) {
  throw std::runtime_error(std::string(expression) + " failed at " + file + ":" + std::to_string(line) + ": " + error);
}

template <class Status>
void check(Status status, const char* expression, const char* file, int line) {
  if (failed(status)) throw_failure(expression, file, line, error_text(status));
}

template <class Status>
void log_if_failed(Status status, const char* expression, const char* file, int line) noexcept {
  if (failed(status)) spdlog::error("{} failed at {}:{}: {}", expression, file, line, error_text(status));
}

}  // namespace egc::cuda

// Any cudaError_t or cublasStatus_t expression.
#define EGC_CUDA_CHECK(expression) ::egc::cuda::check((expression), #expression, __FILE__, __LINE__)
// The same where nothing may throw (destructors, cleanup): the failure is logged.
#define EGC_CUDA_CHECK_NOTHROW(expression) ::egc::cuda::log_if_failed((expression), #expression, __FILE__, __LINE__)
// After a kernel launch: a bad launch configuration is reported here; a fault inside the kernel
// surfaces at the next synchronizing call, which is checked as well.
#define EGC_CUDA_CHECK_LAUNCH(kernel) ::egc::cuda::check(cudaGetLastError(), "launch of " #kernel, __FILE__, __LINE__)
