// Runs commands as child processes, a few at a time, capturing their stdout and stderr:
// the trials of a search are separate runs of the program itself, so a crash, a bad flag
// or an exhausted memory in one trial cannot take the search down, and each has its own
// threads. POSIX (fork/exec, pipes, poll); the caller's thread does all the waiting.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace mnistcnn::search {

struct ProcessResult {
  int exit_code = -1;   // the exit status, or 128 + signal when a signal ended the child
  bool terminated = false;  // ended by the pool (stop or on_done returning false)
  std::string out;      // stdout, up to 64 MiB (the rest is dropped)
  std::string err;      // the last 64 KiB of stderr
  double seconds = 0;
};

// Runs commands[i] (argv[0] a path to execute, no shell) with at most `parallel` running
// at once, in order of i, stdin from /dev/null. on_done(i, result) is called on this
// thread as each ends; when it returns false, or when *stop becomes true (polled every
// 50 ms), the children still running get SIGTERM (SIGKILL after `grace_seconds`), no new
// ones start, and the call returns false once they have ended. True when all ran.
// Error when a child cannot be started (fork or pipe failing; a missing program shows
// as exit code 127 with the reason on its stderr).
bool run_processes(const std::vector<std::vector<std::string>>& commands, int parallel,
                   const std::function<bool(size_t, const ProcessResult&)>& on_done,
                   const std::atomic<bool>* stop = nullptr, double grace_seconds = 30);

}  // namespace mnistcnn::search
