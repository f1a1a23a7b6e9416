// Successive-halving bookkeeping (the rung plan, who survives) and the result side of a
// search: the objective read from train's JSON, fold means and spread, the ranking.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "mnistcnn/search/halving.h"
#include "mnistcnn/search/process_pool.h"
#include "mnistcnn/search/results.h"
#include "support/error_of.h"

namespace mnistcnn {
namespace {

using testing::error_of;

std::vector<std::pair<size_t, int>> plan(size_t n, int eta, int lo, int hi) {
  std::vector<std::pair<size_t, int>> out;
  for (const auto& r : search::halving_plan(n, eta, lo, hi)) out.push_back({r.configs, r.epochs});
  return out;
}

TEST(Halving, RungsKeepOneEtaThAndMultiplyTheEpochs) {
  using P = std::vector<std::pair<size_t, int>>;
  EXPECT_EQ(plan(9, 3, 1, 0), (P{{9, 1}, {3, 3}, {1, 9}}));
  EXPECT_EQ(plan(10, 3, 2, 0), (P{{10, 2}, {3, 6}, {1, 18}}));
  EXPECT_EQ(plan(8, 2, 1, 3), (P{{8, 1}, {4, 2}, {2, 3}})) << "--max-epochs ends it with two left";
  EXPECT_EQ(plan(1, 2, 1, 0), (P{{1, 1}}));
  EXPECT_EQ(plan(5, 2, 4, 4), (P{{5, 4}}));
  EXPECT_NE(error_of([] { search::halving_plan(4, 1, 1, 0); }).find("at least 2"), std::string::npos);
  EXPECT_NE(error_of([] { search::halving_plan(4, 2, 3, 2); }).find("below --min-epochs"), std::string::npos);
}

TEST(Halving, BestOfRanksByAccuracyThenLossAndFailedLast) {
  const std::vector<search::RungScore> s = {{0.9, 0.3, true}, {0.95, 0.2, false}, {0.9, 0.2, true}, {0.8, 0.1, true}};
  EXPECT_EQ(search::best_of(s, 2), (std::vector<size_t>{2, 0}));
  EXPECT_EQ(search::best_of(s, 9), (std::vector<size_t>{2, 0, 3, 1}));
}

std::string train_json(int restored) {
  return R"({"epochs":[{"epoch":1,"val_accuracy":0.90,"val_loss":0.30},{"epoch":2,"val_accuracy":0.95,"val_loss":0.20},)"
         R"({"epoch":3,"val_accuracy":0.93,"val_loss":0.25}],"train_seconds":4.5,"restored_epoch":)" +
         std::to_string(restored) + "}";
}

TEST(SearchResults, TheObjectiveIsTheLastEpochOrTheRestoredOne) {
  search::TrialResult t;
  search::read_train_output(train_json(0), t);
  EXPECT_EQ(t.val_accuracy, 0.93);
  EXPECT_EQ(t.scored_epoch, 3);
  EXPECT_EQ(t.epochs, 3);
  EXPECT_EQ(t.train_seconds, 4.5);
  search::read_train_output(train_json(2), t);
  EXPECT_EQ(t.val_accuracy, 0.95);
  EXPECT_EQ(t.val_loss, 0.20);
  EXPECT_EQ(t.scored_epoch, 2);
  EXPECT_NE(error_of([&] { search::read_train_output("not json", t); }).find("no JSON"), std::string::npos);
  EXPECT_NE(error_of([&] { search::read_train_output(R"({"epochs":[{"epoch":1}]})", t); }).find("no validation"),
            std::string::npos);
  EXPECT_NE(error_of([&] { search::read_train_output(R"({"epochs":[]})", t); }).find("no epochs"), std::string::npos);
}

TEST(SearchResults, TrainErrorIsTheMessageWithItsHintOnOneLine) {
  EXPECT_EQ(search::train_error("note: loading\nmnistcnn: error: data/x: no such file\n  hint: fetch it\n"),
            "data/x: no such file hint: fetch it");
  EXPECT_EQ(search::train_error("The following argument was not expected: --bogus=1\nRun with --help for more information.\n"),
            "The following argument was not expected: --bogus=1");
  EXPECT_EQ(search::train_error(""), "");
}

search::TrialResult trial(int config, int fold, double acc, double loss, int rung = 0, const std::string& status = "ok") {
  search::TrialResult t;
  t.config = config, t.fold = fold, t.val_accuracy = acc, t.val_loss = loss, t.rung = rung, t.status = status;
  t.flags = {{"lr", std::to_string(config)}};
  return t;
}

TEST(SearchResults, LeaderboardAveragesFoldsAndRanksFurtherRungsFirst) {
  // Exactly representable scores, so the means tie exactly where they should.
  const auto rows = search::leaderboard({trial(0, 1, 0.5, 0.25), trial(0, 2, 0.75, 0.5), trial(0, 3, 1.0, 0.75),
                                         trial(1, 1, 1.0, 0.1), trial(1, 2, 0.0, 0.0, 0, "failed"),
                                         trial(2, 1, 0.5, 0.75), trial(2, 2, 1.0, 0.75), trial(3, 1, 0.5, 0.1),
                                         trial(3, 2, 0.5, 0.1)});
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].config, 0);
  EXPECT_EQ(rows[0].accuracy, 0.75);
  EXPECT_EQ(rows[0].accuracy_std, 0.25);  // sample std of 0.5, 0.75, 1
  EXPECT_EQ(rows[0].loss, 0.5);
  EXPECT_EQ(rows[0].trials, 3);
  EXPECT_EQ(rows[1].config, 2) << "equal mean accuracy: the higher loss after";
  EXPECT_EQ(rows[2].config, 3);
  EXPECT_EQ(rows[3].config, 1) << "a configuration with a failed fold ranks last";
  EXPECT_FALSE(rows[3].ok());
  const auto halving = search::leaderboard({trial(0, 0, 0.99, 0.1), trial(1, 0, 0.90, 0.3), trial(1, 0, 0.91, 0.3, 1)});
  EXPECT_EQ(halving[0].config, 1) << "the survivor of rung 1 ranks above a configuration stopped at rung 0";
  EXPECT_EQ(halving[0].accuracy, 0.91);
  const std::string table = search::markdown_table(rows, true);
  EXPECT_NE(table.find("| 1 | 75.00% ± 25.00 | 0.5000 |"), std::string::npos) << table;
  EXPECT_NE(table.find("failed"), std::string::npos);
}

TEST(ProcessPool, RunsInParallelCapturesOutputAndExitCodes) {
  std::vector<std::vector<std::string>> cmds = {{"/bin/sh", "-c", "echo out1; echo err1 >&2; exit 0"},
                                                {"/bin/sh", "-c", "echo oops >&2; exit 3"},
                                                {"/nonexistent/program"}};
  std::vector<search::ProcessResult> got(3);
  EXPECT_TRUE(search::run_processes(cmds, 2, [&](size_t i, const search::ProcessResult& r) { got[i] = r; return true; }));
  EXPECT_EQ(got[0].exit_code, 0);
  EXPECT_EQ(got[0].out, "out1\n");
  EXPECT_EQ(got[0].err, "err1\n");
  EXPECT_EQ(got[1].exit_code, 3);
  EXPECT_EQ(got[1].err, "oops\n");
  EXPECT_EQ(got[2].exit_code, 127);
}

TEST(ProcessPool, StoppingTerminatesTheRunningChildrenAndStartsNoMore) {
  // on_done returning false: the quick child ends first, the sleeping one is terminated.
  const std::vector<std::vector<std::string>> cmds = {
      {"/bin/true"}, {"/bin/sleep", "30"}, {"/bin/sleep", "30"}, {"/bin/sleep", "30"}};
  std::vector<int> codes(4, -2);
  std::vector<bool> terminated(4, false);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(search::run_processes(cmds, 2, [&](size_t i, const search::ProcessResult& r) {
    codes[i] = r.exit_code, terminated[i] = r.terminated;
    return i != 0;
  }));
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 128 + 15);
  EXPECT_TRUE(terminated[1]);
  EXPECT_EQ(codes[2], -2) << "no new child starts once stopped";
  EXPECT_EQ(codes[3], -2);
  // The stop flag, set from another thread while two children sleep.
  std::atomic<bool> stop{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.store(true);
  });
  int ended = 0;
  EXPECT_FALSE(search::run_processes({cmds[1], cmds[2], cmds[3]}, 2, [&](size_t, const search::ProcessResult& r) {
    ++ended;
    EXPECT_TRUE(r.terminated);
    return true;
  }, &stop));
  setter.join();
  EXPECT_EQ(ended, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

}  // namespace
}  // namespace mnistcnn
