// StepMemory: where each buffer of the plan lives while the executor runs. Arena mode: one
// allocation of plan.arena_bytes, offset -> pointer (and one host allocation of
// plan.host_arena_bytes for the offloaded copies). Per-buffer mode: each buffer allocated
// before its first op and released after its last, with the live bytes counted by kind.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "planner/enum_names.h"
#include "planner/plan.h"
#include "runtime/backend.h"

namespace egc {

enum class AllocMode { arena, per_buffer };
inline constexpr EnumName<AllocMode> kAllocModeNames[] = {{AllocMode::arena, "arena"},
                                                         {AllocMode::per_buffer, "per-buffer"}};
static_assert(names_in_order(kAllocModeNames) && count_of(kAllocModeNames) == 1 + int(AllocMode::per_buffer));
AllocMode parse_alloc(std::string_view text, std::string_view flag = "--alloc");
constexpr const char* to_string(AllocMode mode) { return name_of(kAllocModeNames, mode); }

// Bytes counted as buffers come and go (footprints, as the plan counts them).
struct CountedBytes {
  std::size_t live = 0;
  std::size_t peak = 0;
  std::size_t activation_live = 0;
  std::size_t activation_peak = 0;
  std::size_t host_live = 0;  // the host arena's buffers (offloaded copies), apart from the above
  std::size_t host_peak = 0;
};

class StepMemory {
 public:
  virtual ~StepMemory() = default;
  virtual AllocMode mode() const = 0;
  // The buffer's memory; valid from before_op(first_op) to after_op(last_op).
  virtual void* pointer(BufferId id) const = 0;
  virtual void before_op(std::size_t op) = 0;
  virtual void after_op(std::size_t op) = 0;
  // Releases the buffers still held from ops run out of their full sequence (evaluation runs
  // only the forward pass); nothing in arena mode.
  virtual void release_transients() = 0;
  virtual const CountedBytes& counted() const = 0;

  float* floats(BufferId id) const { return static_cast<float*>(pointer(id)); }
};

// Allocates the persistent buffers (all of them, in arena mode) and binds the workspace.
std::unique_ptr<StepMemory> make_step_memory(AllocMode mode, const Plan& plan, Backend& backend);

}  // namespace egc
