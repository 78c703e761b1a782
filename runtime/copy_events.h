// TicketEvents: one event per copy ticket (Backend::copy_async), created at the ticket's first
// copy and reused by later steps, all destroyed together. The CUDA backend keeps cudaEvent_t in
// it; the logic is a template so that the CPU tests run it with plain integers.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace egc {

template <typename Event, typename Create, typename Destroy>
class TicketEvents {
 public:
  TicketEvents(Create create, Destroy destroy) : create_(std::move(create)), destroy_(std::move(destroy)) {}
  TicketEvents(const TicketEvents&) = delete;
  TicketEvents& operator=(const TicketEvents&) = delete;
  ~TicketEvents() {
    for (auto& [ticket, event] : events_) destroy_(event);
  }

  // The event a copy with this ticket records (created once).
  Event for_copy(std::size_t ticket) {
    const auto found = events_.find(ticket);
    if (found != events_.end()) return found->second;
    return events_.emplace(ticket, create_()).first->second;
  }
  // The event to wait for: the ticket's copy must have been made.
  Event for_wait(std::size_t ticket) const {
    const auto found = events_.find(ticket);
    if (found == events_.end())
      throw std::logic_error("wait for copy " + std::to_string(ticket) + ", which was never made");
    return found->second;
  }
  std::size_t size() const { return events_.size(); }

 private:
  Create create_;
  Destroy destroy_;
  std::unordered_map<std::size_t, Event> events_;
};

}  // namespace egc
