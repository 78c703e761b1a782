// SIGINT and SIGTERM as a request to stop between training steps: the first one is recorded
// (async-signal-safe, a sig_atomic_t) for the loop to see; a second one exits at once.
#pragma once

namespace egc {

// From here on, the first SIGINT or SIGTERM is recorded; a second one of either exits the
// process at once with 128 + its number (130, 143), touching no file.
void install_stop_signals();

// 0 until a signal was recorded, then SIGINT or SIGTERM.
int stop_signal();

// "SIGINT", "SIGTERM"; "signal" for any other.
const char* signal_name(int signal);

}  // namespace egc
