// Helpers of the suites that drive the programs as a user does: run a command line and capture
// its exit code and output, read a file whole, ask whether a file exists; start a process whose
// output is read line by line (and which waits for the reader), to signal it mid-run.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace egc::test {

struct CommandResult {
  int code = -1;       // the exit code; -1 when the command did not exit normally
  std::string output;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + command_line);
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  const int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

inline bool exists(const std::string& path) { return std::ifstream(path).good(); }

// A command run by `sh -c "exec ..."`, its stdout and stderr into a pipe of one page: once the
// reader stops reading, the program blocks at its next few lines of output, so a test can stop
// at "step K" and signal it there, however fast it runs.
class Process {
 public:
  explicit Process(const std::string& command_line) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    ::fcntl(fds[0], F_SETPIPE_SZ, 4096);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string command = "exec " + command_line;
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    output_ = ::fdopen(fds[0], "r");
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (output_) std::fclose(output_);
  }
  // The next line of output (without its newline); false at the end.
  bool read_line(std::string& line) {
    line.clear();
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), output_)) {
      line += buffer.data();
      if (!line.empty() && line.back() == '\n') {
        line.pop_back();
        return true;
      }
    }
    return !line.empty();
  }
  // Reads until a line contains `text`; false when the output ends first. `seen` gets every line.
  bool read_until(const std::string& text, std::string* seen = nullptr) {
    std::string line;
    while (read_line(line)) {
      if (seen) *seen += line + "\n";
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  void signal(int number) { ::kill(pid_, number); }
  // Reads the rest of the output (so the program is not blocked on it) and waits for the exit.
  // Returns the exit code, or 128 + the signal that ended it.
  int finish(std::string* rest = nullptr) {
    std::string line;
    while (read_line(line))
      if (rest) *rest += line + "\n";
    return wait();
  }

 private:
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
};

}  // namespace egc::test
