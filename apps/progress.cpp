// Progress bar and log lines.
#include "apps/progress.h"

#include <cstdio>

#include <spdlog/spdlog.h>

namespace egc {

const char* format_duration(double seconds, char* buffer, std::size_t size) {
  const long total = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  if (total >= 3600)
    std::snprintf(buffer, size, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  else
    std::snprintf(buffer, size, "%ld:%02ld", total / 60, total % 60);
  return buffer;
}

Progress::Progress(std::size_t total_steps, std::size_t samples_per_step, std::size_t log_every, bool terminal)
    : total_steps_(total_steps),
      samples_per_step_(samples_per_step),
      log_every_(log_every == 0 ? 1 : log_every),
      terminal_(terminal),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(std::size_t step, float loss, std::optional<float> accuracy) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(step * samples_per_step_) / elapsed : 0.0;
  const double left = step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(total_steps_ - step) : 0.0;
  char eta[32], spent[32], accuracy_text[32] = "";
  if (accuracy) std::snprintf(accuracy_text, sizeof accuracy_text, "  accuracy %.1f%%", 100.0 * *accuracy);
  if (terminal_) {
    // Redraw at most ten times a second, and always on the last step.
    if (step != total_steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int width = 30;
    const int filled = total_steps_ == 0 ? width : static_cast<int>(width * step / total_steps_);
    std::fprintf(stderr, "\r[%.*s%.*s] %3zu%% step %zu/%zu  loss %.5g%s  %.0f samples/s  %s left ", filled,
                 "##############################", width - filled, "..............................",
                 total_steps_ == 0 ? 100 : step * 100 / total_steps_, step, total_steps_, static_cast<double>(loss),
                 accuracy_text, rate, format_duration(left, eta, sizeof eta));
    std::fflush(stderr);
    bar_drawn_ = true;
    return;
  }
  if (step % log_every_ == 0 || step == total_steps_)
    spdlog::info("step {}/{}  loss {:.5g}{}  {:.0f} samples/s  elapsed {}  left {}", step, total_steps_, loss,
                 accuracy_text, rate, format_duration(elapsed, spent, sizeof spent), format_duration(left, eta, sizeof eta));
}

void Progress::finish() {
  if (bar_drawn_) std::fprintf(stderr, "\n");
  bar_drawn_ = false;
}

}  // namespace egc
