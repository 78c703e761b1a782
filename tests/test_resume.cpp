// egc_train runs that are interrupted, by a real SIGKILL, SIGTERM or SIGINT, or by non-finite
// values: a resumed run ends bitwise where the uninterrupted one does; a stop signal leaves a
// valid checkpoint and report; bad numbers stop with exit 1 and keep the last good checkpoint;
// a truncated, corrupt or mismatched checkpoint is refused with exit 2 and overwrites nothing.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/command_helpers.h"

namespace {

using egc::test::exists;
using egc::test::Process;
using egc::test::read_file;
using egc::test::run_command;

// One OpenMP thread: these runs are a few milliseconds of tiny GEMMs, which threads that wait on
// cores taken by the other tests ctest runs at once slow down a hundredfold (results are the
// same for any thread count: every GEMM element accumulates in one order).
const std::string kTrain = std::string("env OMP_NUM_THREADS=1 ") + EGC_TRAIN_PATH;
// 200 steps of a small model: 1,800 training rows in batches of 16 make 112 a epoch, so a run
// crosses an epoch and its reshuffle. --log-every 1 logs "step N/T" at each step.
const std::map<std::string, std::string> kModel = {
    {"--layers", "3"}, {"--width", "16"}, {"--batch", "16"}, {"--samples", "2000"}, {"--seed", "3"}};

// egc_train with kModel's flags, `changed` replacing some of them.
std::string command(const std::map<std::string, std::string>& changed = {}) {
  std::string line = kTrain + " --device cpu --schedule none ";
  for (const auto& [flag, value] : kModel) line += flag + " " + (changed.count(flag) ? changed.at(flag) : value) + " ";
  return line;
}
const std::string kRun = command();

egc::test::CommandResult train(const std::string& args) { return run_command(kRun + args); }

nlohmann::json report_of(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

void remove_files(std::initializer_list<std::string> paths) {
  for (const std::string& path : paths) std::remove(path.c_str());
}

}  // namespace

TEST_CASE("resume: a run killed (SIGKILL) at a random step and resumed ends bitwise as the uninterrupted one") {
  struct Case {
    const char* name;
    std::string flags;         // of every run
    std::string first_flags;   // of the uninterrupted and the killed run
    std::string resume_flags;  // of the resumed run: another plan, another allocation mode
  };
  const Case cases[] = {{"sgd", "", "", ""},
                        {"adam", "--optimizer adam", "", ""},
                        {"adam, accumulate 3", "--optimizer adam --accumulate 3 --steps 120", "", ""},
                        {"sgd, accumulate 2, another plan", "--accumulate 2", "", "--plan none --alloc per-buffer"},
                        {"adam, another plan", "--optimizer adam", "--plan every:2", "--plan budget:6KiB"}};
  std::mt19937 random(20261202);
  for (const Case& c : cases) {
    const std::string steps = std::string(c.flags).find("--steps") == std::string::npos ? "--steps 200 " : "";
    const std::string flags = steps + c.flags + " ";
    const std::size_t kill_at = std::uniform_int_distribution<std::size_t>(10, 100)(random);
    INFO(c.name << ", killed at step " << kill_at << " or soon after");
    remove_files({"resume_ref.safetensors", "resume_ck.safetensors", "resume_out.safetensors", "resume.json"});
    REQUIRE(train(flags + c.first_flags + " --save resume_ref.safetensors").code == 0);

    Process killed(kRun + flags + c.first_flags + " --checkpoint resume_ck.safetensors --checkpoint-every 7 --log-every 1");
    REQUIRE(killed.read_until("step " + std::to_string(kill_at) + "/"));
    killed.signal(SIGKILL);
    CHECK(killed.finish() == 128 + SIGKILL);
    REQUIRE(exists("resume_ck.safetensors"));

    const auto resumed = train(flags + c.resume_flags + " --checkpoint resume_ck.safetensors --checkpoint-every 7 " +
                               "--resume resume_ck.safetensors --save resume_out.safetensors --report resume.json");
    INFO(resumed.output);
    REQUIRE(resumed.code == 0);
    const nlohmann::json training = report_of("resume.json")["training"];
    const std::size_t from = training["resumed_from_step"];
    CHECK(from % 7 == 0);
    CHECK(from >= (kill_at - 1) / 7 * 7);  // the checkpoint before the step seen was complete
    CHECK(training["stop_reason"] == "completed");
    CHECK(training["end_step"] == training["steps"].get<std::size_t>() + from);
    CHECK(read_file("resume_out.safetensors") == read_file("resume_ref.safetensors"));
  }
  remove_files({"resume_ref.safetensors", "resume_ck.safetensors", "resume_out.safetensors", "resume.json"});
}

TEST_CASE("resume: SIGTERM and SIGINT finish the step, write the checkpoint and the report, exit 143 and 130") {
  remove_files({"signal_ref.safetensors", "signal_ck.safetensors", "signal.json", "signal_out.safetensors"});
  REQUIRE(train("--steps 200 --optimizer adam --save signal_ref.safetensors").code == 0);
  for (const int signal : {SIGTERM, SIGINT}) {
    const std::string name = signal == SIGTERM ? "SIGTERM" : "SIGINT";
    INFO(name);
    remove_files({"signal_ck.safetensors", "signal.json", "signal_out.safetensors"});
    Process run(kRun + "--steps 200 --optimizer adam --checkpoint signal_ck.safetensors --checkpoint-every 50 "
                       "--log-every 1 --report signal.json");
    REQUIRE(run.read_until("step 30/"));
    run.signal(signal);
    std::string rest;
    CHECK(run.finish(&rest) == 128 + signal);
    CHECK(rest.find("training stopped: " + name + " after step") != std::string::npos);
    REQUIRE(exists("signal.json"));
    const nlohmann::json training = report_of("signal.json")["training"];
    CHECK(training["stop_reason"] == name);
    const std::size_t end = training["end_step"];
    CHECK(end >= 30);
    CHECK(end < 200);
    CHECK(training["stopped"] == name + " after step " + std::to_string(end));
    CHECK(training["checkpoint"]["step"] == end);  // written at the stop, not only at step 50
    // The checkpoint is valid: the run continues from it to the uninterrupted run's end.
    const auto resumed = train("--steps 200 --optimizer adam --resume signal_ck.safetensors --save signal_out.safetensors");
    INFO(resumed.output);
    CHECK(resumed.code == 0);
    CHECK(read_file("signal_out.safetensors") == read_file("signal_ref.safetensors"));
  }
  remove_files({"signal_ref.safetensors", "signal_ck.safetensors", "signal.json", "signal_out.safetensors"});
}

TEST_CASE("resume: a second signal exits at once, writing neither checkpoint nor report") {
  remove_files({"twice_ck.safetensors", "twice.json"});
  Process run(kRun + "--steps 100000 --checkpoint twice_ck.safetensors --log-every 1 --report twice.json");
  REQUIRE(run.read_until("step 5/"));
  // Unread, the output fills its pipe and the program waits in a write: both signals reach it there.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  run.signal(SIGINT);
  // Apart, or the kernel merges a second signal of a kind still pending into the first.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  run.signal(SIGTERM);
  CHECK(run.finish() == 128 + SIGTERM);
  CHECK(!exists("twice_ck.safetensors"));
  CHECK(!exists("twice.json"));
}

TEST_CASE("resume: non-finite values stop with exit 1 naming the step, and the last good checkpoint still loads") {
  remove_files({"nan_ck.safetensors", "nan.json"});
  // A learning rate that diverges: the parameters overflow within a few steps.
  for (const std::string check : {"", "--check-finite"}) {
    INFO(check);
    remove_files({"nan_ck.safetensors", "nan.json"});
    const auto diverged = train("--steps 50 --lr 1e6 --momentum 0 --checkpoint nan_ck.safetensors --checkpoint-every 1 "
                                "--report nan.json " + check);
    INFO(diverged.output);
    CHECK(diverged.code == 1);
    CHECK(diverged.output.find("egc_train: failed: non-finite ") != std::string::npos);
    REQUIRE(exists("nan.json"));
    const nlohmann::json training = report_of("nan.json")["training"];
    CHECK(training["stop_reason"] == "non-finite");
    const std::string stopped = training["stopped"];
    CHECK(diverged.output.find(stopped) != std::string::npos);
    // The last checkpoint is of a step before the one that failed, and it resumes.
    REQUIRE(exists("nan_ck.safetensors"));
    const std::size_t good = training["checkpoint"]["step"];
    CHECK(good <= training["end_step"].get<std::size_t>());
    const auto resumed = train("--steps " + std::to_string(good) + " --lr 1e6 --momentum 0 --resume nan_ck.safetensors");
    INFO(resumed.output);
    CHECK(resumed.code == 0);
    CHECK(train("--steps 0 --load nan_ck.safetensors").code == 0);  // its parameters load, too
  }
  // A value in the data that overflows the forward pass (the CSV reader refuses NaN itself).
  {
    std::ofstream csv("nan_data.csv");
    csv << "x,y\n";
    for (int row = 0; row < 400; ++row) csv << (row == 123 ? "3e38" : std::to_string(row / 400.0)) << "," << row / 200.0 << "\n";
  }
  const auto poisoned = run_command(kTrain + " --layers 2 --width 8 --batch 8 --accumulate 2 --device cpu --data nan_data.csv "
                                             "--epochs 2 --report nan.json");
  INFO(poisoned.output);
  CHECK(poisoned.code == 1);
  CHECK(poisoned.output.find("non-finite loss (") != std::string::npos);
  CHECK(poisoned.output.find(", micro-batch ") != std::string::npos);
  CHECK(report_of("nan.json")["training"]["stopped"].get<std::string>().find("non-finite loss") == 0);
  remove_files({"nan_ck.safetensors", "nan.json", "nan_data.csv"});
}

TEST_CASE("resume: truncated, corrupt and mismatched checkpoints exit 2 naming the file and what is wrong") {
  remove_files({"bad_ck.safetensors", "bad.json"});
  REQUIRE(train("--steps 10 --checkpoint bad_ck.safetensors").code == 0);
  const std::string good = read_file("bad_ck.safetensors");
  { std::ofstream("bad_truncated.safetensors", std::ios::binary) << good.substr(0, good.size() / 2); }
  std::string flipped = good;
  flipped[good.size() - 10] = static_cast<char>(flipped[good.size() - 10] ^ 1);
  { std::ofstream("bad_flipped.safetensors", std::ios::binary) << flipped; }
  // Where a run writes the checkpoint it reads, that file must survive every refusal.
  const std::string same = " --checkpoint bad_ck.safetensors";
  struct BadCase {
    std::map<std::string, std::string> changed;  // model flags that differ from the checkpoint's run
    std::string args;
    std::string expected;
  };
  const BadCase cases[] = {
      {{}, "--resume bad_truncated.safetensors" + same, "--resume: 'bad_truncated.safetensors' is truncated or corrupt"},
      {{}, "--resume bad_flipped.safetensors" + same, "--resume: 'bad_flipped.safetensors' is corrupt"},
      {{{"--width", "8"}}, "--resume bad_ck.safetensors" + same, "was written for another model"},
      {{}, "--resume bad_ck.safetensors --optimizer adam" + same, "was written for another optimizer"},
      {{}, "--resume bad_ck.safetensors --momentum 0.5" + same, "was written for another optimizer"},
      {{{"--samples", "3000"}}, "--resume bad_ck.safetensors" + same, "was written for another data"},
      {{{"--seed", "4"}}, "--resume bad_ck.safetensors" + same, "was written for another data"},
      {{{"--batch", "32"}}, "--resume bad_ck.safetensors" + same, "was written for another training"},
      {{}, "--resume bad_ck.safetensors --accumulate 2" + same, "was written for another training"},
      {{}, "--resume bad_ck.safetensors --steps 5" + same, "past this run's end at step 5"},
      {{}, "--resume no_such.safetensors" + same, "--resume: cannot open 'no_such.safetensors'"},
      {{}, "--resume bad_ck.safetensors --load bad_ck.safetensors", "excludes"},
      {{}, "--checkpoint-every 5", "--checkpoint-every: needs --checkpoint"},
      {{}, "--checkpoint-every 0" + same, "--checkpoint-every"},
      {{}, "--checkpoint no/such/dir/ck.safetensors", "--checkpoint"},
  };
  for (const BadCase& c : cases) {
    const std::string steps = c.args.find("--steps") == std::string::npos ? " --steps 20" : "";
    const auto result = run_command(command(c.changed) + "--report bad.json " + c.args + steps);
    INFO(c.args << " -> " << result.output);
    CHECK(result.code == 2);
    CHECK(result.output.find(c.expected) != std::string::npos);
    CHECK(!exists("bad.json"));
    CHECK(read_file("bad_ck.safetensors") == good);
  }
  remove_files({"bad_ck.safetensors", "bad.json", "bad_truncated.safetensors", "bad_flipped.safetensors"});
}
