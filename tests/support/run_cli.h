// Runs the real mnistcnn program (as a user would) and captures its exit code, stdout
// and stderr separately.
#pragma once
#include <string>

namespace mnistcnn::testing {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

// `args` is appended to the program's path in a shell command line (quote as needed).
CliResult run_cli(const std::string& args);
// Starts the program in the background, stdout to /dev/null and stderr to `err_path`;
// returns its pid.
int spawn_cli(const std::string& args, const std::string& err_path = "/dev/null");
// Waits for a spawned program: its exit code, or 128 + signal when a signal ended it.
int wait_cli(int pid);
// The weights_sha256 of a model file, from `mnistcnn info --json` (empty, and a test
// failure, when that fails).
std::string weights_digest(const std::string& model);
// A fresh empty directory under the system temp dir.
std::string make_temp_dir(const std::string& tag);

}  // namespace mnistcnn::testing
