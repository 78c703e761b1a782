// The CUDA backend's entry points (compiled only where CUDA is found: EGC_HAVE_CUDA).
#pragma once

#include <memory>
#include <string>

#include "runtime/backend.h"
#include "runtime/backend_factory.h"

namespace egc {

// Whether a CUDA device can be used; `why` says why not (no device, no driver, driver error).
// Never throws. Like make_cuda_backend, it first asks for eager module loading (see
// cuda_backend.cpp), so call one of them before any other CUDA call of the process.
bool cuda_device_present(std::string* why);

// A backend on options.cuda_device: one stream, one cuBLAS handle, kernels loaded eagerly.
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);

// The cudaStream_t every op of a backend made by make_cuda_backend runs on (for timing with
// CUDA events); std::logic_error for any other backend.
void* cuda_stream(Backend& backend);

}  // namespace egc
