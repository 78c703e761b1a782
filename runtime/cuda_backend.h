// The CUDA backend's entry points (compiled only where CUDA is found: EGC_HAVE_CUDA).
#pragma once

#include <memory>
#include <string>

#include "runtime/backend.h"
#include "runtime/backend_factory.h"

namespace egc {

// Whether a CUDA device can be used; `why` says why not (no device, driver error).
bool cuda_device_present(std::string* why);

// A backend on options.cuda_device: one stream, one cuBLAS handle, kernels loaded eagerly.
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);

}  // namespace egc
