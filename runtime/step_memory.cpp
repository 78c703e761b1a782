// Arena and per-buffer StepMemory.
#include "runtime/step_memory.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "planner/errors.h"

namespace egc {

AllocMode parse_alloc(std::string_view text, std::string_view flag) {
  return parse_name(kAllocModeNames, text, flag, "allocation mode");
}

namespace {

void bind_workspace(const Plan& plan, Backend& backend, const StepMemory& memory) {
  if (plan.step.workspace != kNoBuffer)
    backend.bind_workspace(memory.pointer(plan.step.workspace), plan.buffers[plan.step.workspace].bytes);
  else
    backend.bind_workspace(nullptr, 0);
}

class ArenaMemory final : public StepMemory {
 public:
  ArenaMemory(const Plan& plan, Backend& backend) : plan_(plan), backend_(backend) {
    // Bounds are checked in every build, as TFLite's arena does: a plan bug must not become a
    // silent out-of-bounds write.
    for (const Buffer& buffer : plan.buffers) {
      const std::size_t arena = buffer.host ? plan.host_arena_bytes : plan.arena_bytes;
      if (buffer.offset > arena || buffer.footprint > arena - buffer.offset)
        throw std::logic_error("arena: " + buffer.name + " lies outside the " + (buffer.host ? "host " : "") + "arena");
    }
    base_ = static_cast<std::byte*>(backend.allocate(plan.arena_bytes));
    if (plan.host_arena_bytes > 0) {
      try {
        host_base_ = static_cast<std::byte*>(backend.allocate_host(plan.host_arena_bytes));
      } catch (...) {
        backend.release(base_);
        throw;
      }
    }
    counted_.live = counted_.peak = plan.arena_bytes;
    counted_.host_live = counted_.host_peak = plan.host_arena_bytes;
    bind_workspace(plan, backend, *this);
  }
  ~ArenaMemory() override {
    backend_.release_host(host_base_);
    backend_.release(base_);
  }
  AllocMode mode() const override { return AllocMode::arena; }
  void* pointer(BufferId id) const override {
    // Every buffer lies inside the arena (checked once, the plan is const); only the id is left.
    if (id >= plan_.buffers.size()) throw std::logic_error("arena: no buffer " + std::to_string(id));
    const Buffer& buffer = plan_.buffers[id];
    return (buffer.host ? host_base_ : base_) + buffer.offset;
  }
  void before_op(std::size_t) override {}
  void after_op(std::size_t) override {}
  void release_transients() override {}
  const CountedBytes& counted() const override { return counted_; }

 private:
  const Plan& plan_;
  Backend& backend_;
  std::byte* base_ = nullptr;
  std::byte* host_base_ = nullptr;
  CountedBytes counted_;
};

class PerBufferMemory final : public StepMemory {
 public:
  PerBufferMemory(const Plan& plan, Backend& backend)
      : plan_(plan), backend_(backend), pointers_(plan.buffers.size(), nullptr), born_(plan.ops.size()),
        dying_(plan.ops.size()) {
    for (BufferId id = 0; id < plan.buffers.size(); ++id) {
      const Buffer& buffer = plan.buffers[id];
      if (buffer.persistent) {
        acquire(id);
      } else {
        born_[buffer.first_op].push_back(id);
        dying_[buffer.last_op].push_back(id);
      }
    }
    bind_workspace(plan, backend, *this);
  }
  ~PerBufferMemory() override {
    for (BufferId id = 0; id < pointers_.size(); ++id)
      if (pointers_[id]) release(id);
  }
  AllocMode mode() const override { return AllocMode::per_buffer; }
  void* pointer(BufferId id) const override {
    if (!pointers_[id]) throw std::logic_error("per-buffer: " + plan_.buffers[id].name + " used while not allocated");
    return pointers_[id];
  }
  void before_op(std::size_t op) override {
    for (BufferId id : born_[op]) acquire(id);
  }
  void after_op(std::size_t op) override {
    for (BufferId id : dying_[op]) release(id);
  }
  void release_transients() override {
    for (BufferId id = 0; id < plan_.buffers.size(); ++id)
      if (!plan_.buffers[id].persistent && pointers_[id]) release(id);
  }
  const CountedBytes& counted() const override { return counted_; }

 private:
  void acquire(BufferId id) {
    const Buffer& buffer = plan_.buffers[id];
    if (buffer.host) {
      pointers_[id] = backend_.allocate_host(buffer.footprint);
      counted_.host_live += buffer.footprint;
      counted_.host_peak = std::max(counted_.host_peak, counted_.host_live);
      return;
    }
    pointers_[id] = backend_.allocate(buffer.footprint);
    counted_.live += buffer.footprint;
    counted_.peak = std::max(counted_.peak, counted_.live);
    if (counts_as_activation(buffer.kind)) {
      counted_.activation_live += buffer.footprint;
      counted_.activation_peak = std::max(counted_.activation_peak, counted_.activation_live);
    }
  }
  void release(BufferId id) {
    const Buffer& buffer = plan_.buffers[id];
    buffer.host ? backend_.release_host(pointers_[id]) : backend_.release(pointers_[id]);
    pointers_[id] = nullptr;
    if (buffer.host) {
      counted_.host_live -= buffer.footprint;
      return;
    }
    counted_.live -= buffer.footprint;
    if (counts_as_activation(buffer.kind)) counted_.activation_live -= buffer.footprint;
  }

  const Plan& plan_;
  Backend& backend_;
  std::vector<void*> pointers_;
  std::vector<std::vector<BufferId>> born_, dying_;  // per op: buffers allocated before / released after
  CountedBytes counted_;
};

}  // namespace

std::unique_ptr<StepMemory> make_step_memory(AllocMode mode, const Plan& plan, Backend& backend) {
  if (mode == AllocMode::arena) return std::make_unique<ArenaMemory>(plan, backend);
  return std::make_unique<PerBufferMemory>(plan, backend);
}

}  // namespace egc
