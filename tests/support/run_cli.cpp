#include "support/run_cli.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <gtest/gtest.h>

namespace mnistcnn::testing {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

std::string make_temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::temp_directory_path() /
             ("mnistcnn_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

int spawn_cli(const std::string& args, const std::string& err_path) {
  const std::string cmd = "exec " + std::string(MNISTCNN_BINARY) + " " + args + " </dev/null >/dev/null 2>" + err_path;
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return static_cast<int>(pid);
}

int wait_cli(int pid) {
  int status = 0;
  if (waitpid(static_cast<pid_t>(pid), &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string weights_digest(const std::string& model) {
  const auto r = run_cli("info --json " + model);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out).at("weights_sha256").get<std::string>() : "";
}

CliResult run_cli(const std::string& args) {
  const std::string dir = make_temp_dir("cli");
  const std::string out = dir + "/stdout", err = dir + "/stderr";
  const std::string cmd = std::string(MNISTCNN_BINARY) + " " + args + " </dev/null >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace mnistcnn::testing
