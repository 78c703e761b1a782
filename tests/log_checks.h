// Turns an error that egc logs through spdlog (an error in a destructor, a CUDA call that failed
// where it could not throw) into a test failure, as tiny-cuda-nn's test set-up does: inside a
// test case it fails that case; outside one (static destruction) it fails the whole run.
#pragma once

#include <doctest/doctest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

namespace egc::test {

inline std::atomic<int> errors_outside_tests{0};

class FailOnErrorSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    if (message.level < spdlog::level::err) return;
    const std::string text(message.payload.begin(), message.payload.end());
    if (doctest::is_running_in_test) {
      FAIL_CHECK("logged as an error: " << text);
    } else {
      ++errors_outside_tests;
      std::cerr << "error logged outside a test case: " << text << "\n";
    }
  }
  void flush_() override {}
};

// The default logger writes to stderr and fails on errors; call once at the start of main.
inline void fail_tests_on_logged_errors() {
  auto logger = std::make_shared<spdlog::logger>(
      "egc-test", spdlog::sinks_init_list{std::make_shared<spdlog::sinks::stderr_color_sink_mt>(),
                                          std::make_shared<FailOnErrorSink>()});
  spdlog::set_default_logger(logger);
}

// The run's exit code with errors logged outside test cases counted as a failure.
inline int with_errors_outside_tests(int result) { return errors_outside_tests > 0 && result == 0 ? 1 : result; }

}  // namespace egc::test
