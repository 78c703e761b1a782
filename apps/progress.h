// Progress of a training run: a bar with loss (and accuracy, for classification), samples/s and
// time left on a terminal; plain spdlog lines every `log_every` steps otherwise.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace egc {

class Progress {
 public:
  Progress(std::size_t total_steps, std::size_t samples_per_step, std::size_t log_every, bool terminal);
  void update(std::size_t step, float loss, std::optional<float> accuracy = std::nullopt);
  void finish();

 private:
  std::size_t total_steps_;
  std::size_t samples_per_step_;
  std::size_t log_every_;
  bool terminal_;
  bool bar_drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1:02:03", "4:05", "0:07"
const char* format_duration(double seconds, char* buffer, std::size_t size);

}  // namespace egc
