// Crash safety: training killed with SIGKILL at random moments, some of them inside a
// checkpoint write, and resumed each time from its checkpoint directory. After every
// kill each checkpoint on disk loads, and the final weights equal the uninterrupted run's.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "mnistcnn/core/error.h"
#include "mnistcnn/train/checkpoint.h"
#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool has_temporary(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().find(".safetensors.tmp.") != std::string::npos) return true;
  return false;
}

TEST(KillResume, TwentyKillsLoseNothingAndChangeNothing) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("kill");
  const std::string run = "train --preset keras-mnist --data " + testing::mnist_dir() +
                          " --limit 3000 --epochs 3 --no-val --seed 9 --threads 2 -q";
  const auto ref = testing::run_cli(run + " --out " + dir + "/ref.safetensors");
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const std::string want = testing::weights_digest(dir + "/ref.safetensors");

  std::mt19937 gen(20261123);
  std::uniform_int_distribution<int> delay_ms(200, 2500);
  int kills = 0, kills_in_write = 0, rounds = 0;
  while (kills < 24) {
    ++rounds;
    const std::string ck = dir + "/ck" + std::to_string(rounds), out = dir + "/out" + std::to_string(rounds) + ".safetensors";
    for (bool finished = false; !finished;) {
      const bool resume = fs::exists(ck) && !train::latest_checkpoint(ck).empty();
      const int pid = testing::spawn_cli(run + " --checkpoint-dir " + ck + " --checkpoint-every 3 --keep-last 2" +
                                         (resume ? " --resume " + ck : "") + " --out " + out);
      // Every other kill waits for a checkpoint write in progress; the rest come at a random time.
      const bool in_write = kills % 2 == 1;
      // Once there have been enough kills, the round runs to its end.
      const auto until = Clock::now() + (kills >= 24 ? std::chrono::milliseconds(600000)
                                                     : std::chrono::milliseconds(delay_ms(gen)));
      while (Clock::now() < until && !(in_write && has_temporary(ck))) {
        if (!in_write) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
          ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a resumed run failed";
          finished = true;
          break;
        }
      }
      if (finished) break;
      kill(pid, SIGKILL);
      const int code = testing::wait_cli(pid);
      if (code == 0) break;  // it had just finished
      ASSERT_EQ(code, 128 + SIGKILL);
      ++kills;
      if (has_temporary(ck)) ++kills_in_write;
      // Every checkpoint left on disk loads.
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(ck, ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() > 12 && name.substr(name.size() - 12) == ".safetensors") {
          EXPECT_NO_THROW(train::load_checkpoint(e.path().string())) << name << " after kill " << kills;
        }
      }
    }
    EXPECT_EQ(testing::weights_digest(out), want) << "round " << rounds << " after " << kills << " kills";
  }
  EXPECT_GE(kills, 20);
  EXPECT_GE(kills_in_write, 1) << "no kill landed inside a checkpoint write";
  RecordProperty("kills", kills);
  RecordProperty("kills_in_write", kills_in_write);
  RecordProperty("rounds", rounds);
  std::printf("%d kills (%d inside a checkpoint write) over %d rounds\n", kills, kills_in_write, rounds);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
