// `mnistcnn search` through the real program, on 2,000 MNIST images and a tiny network:
// grid, random, halving and k-fold searches record exactly the trials they should, never
// evaluate the test set, survive failing trials, stop early when every trial fails, stop
// cleanly on SIGTERM, refuse bad arguments with a message, and carry a searched boolean flag
// (deskew=true,false) into each trial's model.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_cli;

std::string base(const std::string& extra = "--epochs 1") {
  return "--base \"--arch 'conv(4,3) relu maxpool(2) flatten dense(10)' --limit 2000 --data " + testing::mnist_dir() +
         " " + extra + "\"";
}

std::vector<json> trials(const std::string& dir) {
  std::vector<json> out;
  std::ifstream in(dir + "/trials.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(SearchCli, GridTrainsTheProductOnceEachWithoutTheTestSet) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_grid");
  const auto r = run_cli("search " + base() + " --grid \"lr=1e-3,3e-3\" --grid \"batch-size=32,128\" --parallel 2 "
                         "--keep-models --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto t = trials(dir);
  ASSERT_EQ(t.size(), 4u);
  std::set<std::pair<std::string, std::string>> seen;
  for (const json& j : t) {
    EXPECT_EQ(j["status"], "ok") << j.dump();
    EXPECT_EQ(j["flags"].size(), 2u);
    seen.insert({j["flags"]["lr"].get<std::string>(), j["flags"]["batch-size"].get<std::string>()});
    EXPECT_GT(j["val_accuracy"].get<double>(), 0.3);
    EXPECT_EQ(j["epochs"], 1);
    EXPECT_FALSE(j.contains("test_accuracy"));
  }
  EXPECT_EQ(seen, (std::set<std::pair<std::string, std::string>>{{"1e-3", "32"}, {"1e-3", "128"}, {"3e-3", "32"}, {"3e-3", "128"}}));
  // The trials' models carry no test result: the test set was never evaluated.
  int models = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/trials")) {
    if (e.path().filename() != "model.safetensors") continue;
    ++models;
    const auto info = run_cli("info --json " + e.path().string());
    ASSERT_EQ(info.exit_code, 0) << info.err;
    EXPECT_EQ(info.out.find("test_accuracy"), std::string::npos);
  }
  EXPECT_EQ(models, 4);
  const json best = json::parse(slurp(dir + "/best.json"));
  double top = 0;
  for (const json& j : t) top = std::max(top, j["val_accuracy"].get<double>());
  EXPECT_EQ(best["val_accuracy"].get<double>(), top);
  const std::string summary = slurp(dir + "/summary.md");
  EXPECT_NE(summary.find("| rank |"), std::string::npos);
  EXPECT_NE(summary.find(best["command"].get<std::string>()), std::string::npos);
  EXPECT_NE(r.out.find("| 4 |"), std::string::npos) << "the table is printed";
  fs::remove_all(dir);
}

TEST(SearchCli, RandomSearchIsReproducibleAndInRange) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_random");
  const std::string args = "search " + base() + " --random 3 --param \"lr=log:1e-4:1e-2\" --param \"batch-size=int:16:64\" "
                           "--param \"label-smoothing=uniform:0:0.2\" --seed 5 -q --parallel 2 --out ";
  ASSERT_EQ(run_cli(args + dir + "/a").exit_code, 0);
  ASSERT_EQ(run_cli(args + dir + "/b").exit_code, 0);
  auto by_config = [](const std::vector<json>& t) {
    std::map<int, json> m;
    for (const json& j : t) m[j["config"].get<int>()] = j;
    return m;
  };
  const auto a = by_config(trials(dir + "/a")), b = by_config(trials(dir + "/b"));
  ASSERT_EQ(a.size(), 3u);
  for (const auto& [config, j] : a) {
    EXPECT_EQ(j["flags"], b.at(config)["flags"]);
    EXPECT_EQ(j["val_accuracy"], b.at(config)["val_accuracy"]) << "same flags, same seed, same thread count";
    const double lr = std::stod(j["flags"]["lr"].get<std::string>());
    const double bs = std::stod(j["flags"]["batch-size"].get<std::string>());
    const double ls = std::stod(j["flags"]["label-smoothing"].get<std::string>());
    EXPECT_TRUE(lr >= 1e-4 && lr <= 1e-2) << lr;
    EXPECT_TRUE(bs >= 16 && bs <= 64) << bs;
    EXPECT_TRUE(ls >= 0 && ls <= 0.2) << ls;
  }
  fs::remove_all(dir);
}

TEST(SearchCli, HalvingKeepsTheTopHalfAndResumesThemExactly) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_halving");
  const auto r = run_cli("search " + base("") + " --grid \"lr=3e-4,1e-3,3e-3,1e-2\" --halving 2 --parallel 2 -q --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<int, std::vector<json>> rungs;
  for (const json& j : trials(dir)) rungs[j["rung"].get<int>()].push_back(j);
  ASSERT_EQ(rungs.size(), 3u);
  ASSERT_EQ(rungs[0].size(), 4u);
  ASSERT_EQ(rungs[1].size(), 2u);
  ASSERT_EQ(rungs[2].size(), 1u);
  for (int rung = 0; rung < 2; ++rung) {
    auto ranked = rungs[rung];
    std::sort(ranked.begin(), ranked.end(), [](const json& x, const json& y) {
      return x["val_accuracy"] != y["val_accuracy"] ? x["val_accuracy"] > y["val_accuracy"] : x["val_loss"] < y["val_loss"];
    });
    std::set<int> top, next;
    for (size_t i = 0; i < rungs[rung + 1].size(); ++i) top.insert(ranked[i]["config"].get<int>());
    for (const json& j : rungs[rung + 1]) {
      next.insert(j["config"].get<int>());
      EXPECT_EQ(j["epochs"], 2 * rungs[rung][0]["epochs"].get<int>());
    }
    EXPECT_EQ(top, next) << "rung " << rung + 1 << " trains the best half of rung " << rung;
  }
  // A survivor resumed to 2 epochs scores what a fresh 2-epoch training scores.
  const json& s = rungs[1][0];
  const auto fresh = run_cli("train --arch \"conv(4,3) relu maxpool(2) flatten dense(10)\" --limit 2000 --data " +
                             testing::mnist_dir() + " --lr=" + s["flags"]["lr"].get<std::string>() +
                             " --epochs 2 --val-split 0.1 --threads 1 --no-test --json -q --out " + dir + "/fresh.safetensors");
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(json::parse(fresh.out)["epochs"][1]["val_loss"], s["val_loss"]);
  EXPECT_EQ(json::parse(slurp(dir + "/best.json"))["config"], rungs[2][0]["config"]);
  EXPECT_FALSE(fs::exists(dir + "/trials")) << "trial files are removed without --keep-models";
  fs::remove_all(dir);
}

// A preset's recipe can bring a schedule that depends on --epochs (wide-bn: cosine); its
// survivors must then train afresh, as with --schedule cosine given as a flag.
TEST(SearchCli, HalvingSeesThePresetsScheduleAndTrainsSurvivorsAfresh) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_halving_preset");
  const auto r = run_cli("search --base \"--preset wide-bn --limit 300 --data " + testing::mnist_dir() +
                         "\" --grid \"lr=1e-3,3e-3\" --halving 2 --parallel 2 --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("survivors train afresh"), std::string::npos) << r.err;
  const auto all = trials(dir);
  ASSERT_EQ(all.size(), 3u);
  fs::remove_all(dir);
}

TEST(SearchCli, KFoldAveragesKTrialsPerConfiguration) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_folds");
  const auto r = run_cli("search " + base() + " --grid \"lr=3e-3\" --folds 3 --parallel 2 -q --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto t = trials(dir);
  ASSERT_EQ(t.size(), 3u);
  for (const json& j : t) EXPECT_FALSE(j.contains("model")) << "no --keep-models: the trials' models are gone";
  std::set<int> folds;
  double sum = 0;
  for (const json& j : t) folds.insert(j["fold"].get<int>()), sum += j["val_accuracy"].get<double>();
  EXPECT_EQ(folds, (std::set<int>{1, 2, 3}));
  const json best = json::parse(slurp(dir + "/best.json"));
  EXPECT_NEAR(best["val_accuracy"].get<double>(), sum / 3, 1e-12);
  EXPECT_TRUE(best.contains("val_accuracy_std"));
  EXPECT_EQ(best["trials"], 3);
  fs::remove_all(dir);
}

// A boolean flag is searched as name=true,false (passed as --deskew=true); each trial's
// model must carry the value its flags say, and best.json's command must repeat it.
TEST(SearchCli, GridVariesABooleanFlagIntoEachTrialsModel) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_bool");
  const auto r = run_cli("search " + base() + " --grid \"deskew=true,false\" --parallel 2 -q --keep-models --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto t = trials(dir);
  ASSERT_EQ(t.size(), 2u);
  std::set<std::string> values;
  for (const json& j : t) {
    ASSERT_EQ(j["status"], "ok") << j.dump();
    const std::string value = j["flags"]["deskew"].get<std::string>();
    values.insert(value);
    const std::string model = j["model"].get<std::string>();  // --keep-models names each trial's file
    EXPECT_EQ(model.rfind(dir + "/trials/", 0), 0u) << model;
    const auto info = run_cli("info --json " + model);
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const json norm = json::parse(info.out)["normalization"];
    EXPECT_EQ(norm["deskew"].get<bool>(), value == "true") << model;
    EXPECT_EQ(norm["name"], value == "true" ? "scale+deskew" : "scale");
  }
  EXPECT_EQ(values, (std::set<std::string>{"true", "false"}));
  const json best = json::parse(slurp(dir + "/best.json"));
  EXPECT_NE(best["command"].get<std::string>().find("--deskew=" + best["flags"]["deskew"].get<std::string>()), std::string::npos)
      << best.dump();
  fs::remove_all(dir);
}

TEST(SearchCli, FailingTrialsAreRecordedAndTheSearchGoesOn) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_fail");
  // classes=0-99 fails when the data is read (a run-time failure); lr=-5 is refused by the dry run.
  const auto r = run_cli("search " + base() + " --grid \"classes=0-9,0-99\" --grid \"lr=1e-3,-5\" --parallel 2 -q --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> status;
  for (const json& j : trials(dir)) {
    ++status[j["status"].get<std::string>()];
    if (j["status"] == "ok") {
      EXPECT_EQ(j["flags"]["classes"], "0-9");
    } else {
      const std::string why = j["error"].get<std::string>();
      EXPECT_NE(why.find(j["status"] == "invalid" ? "--lr" : "--classes 0-99"), std::string::npos) << j.dump();
    }
  }
  EXPECT_EQ(status, (std::map<std::string, int>{{"invalid", 2}, {"ok", 1}, {"failed", 1}}));
  fs::remove_all(dir);
}

TEST(SearchCli, StopsEarlyWhenEveryTrialFails) {
  const std::string dir = testing::make_temp_dir("search_allfail");
  const auto unknown = run_cli("search " + base() + " --grid \"bogus-flag=1,2\" -q --out " + dir + "/a");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("train refuses every configuration"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("--bogus-flag"), std::string::npos) << unknown.err;
  const auto no_data = run_cli("search --base \"--arch 'conv(4,3) relu maxpool(2) flatten dense(10)' --data " + dir +
                               "/none --epochs 1\" --grid \"lr=1e-4,2e-4,3e-4,4e-4,5e-4,6e-4\" --parallel 1 -q --out " + dir + "/b");
  EXPECT_EQ(no_data.exit_code, 1);
  EXPECT_NE(no_data.err.find("the first 3 trials all failed"), std::string::npos) << no_data.err;
  EXPECT_NE(no_data.err.find(dir + "/none"), std::string::npos) << no_data.err;
  EXPECT_EQ(trials(dir + "/b").size(), 3u) << "the other three never ran";
  fs::remove_all(dir);
}

TEST(SearchCli, SigtermStopsTheTrialsAndLeavesTheTable) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("search_sigterm");
  const int pid = testing::spawn_cli("search " + base() + " --grid \"lr=1e-4,2e-4,3e-4,4e-4,5e-4,6e-4,7e-4,8e-4\" "
                                     "--parallel 1 -q --out " + dir);
  const auto t0 = std::chrono::steady_clock::now();
  while (!fs::exists(dir + "/trials.jsonl") && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir + "/trials.jsonl"));
  kill(pid, SIGTERM);
  EXPECT_EQ(testing::wait_cli(pid), 128 + SIGTERM);
  const auto t = trials(dir);
  EXPECT_GE(t.size(), 1u);
  EXPECT_LT(t.size(), 8u);
  EXPECT_NE(slurp(dir + "/summary.md").find("interrupted"), std::string::npos);
  fs::remove_all(dir);
}

TEST(SearchCli, BadArgumentsAreRefusedWithAMessage) {
  const std::string dir = testing::make_temp_dir("search_bad");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--grid \"lr=\"", "empty value"},
      {"--random 2 --param \"lr=log:0:1\"", "LO > 0"},
      {"--random 2 --param \"lr=uniform:1:0\"", "LO is greater than HI"},
      {"--param \"lr=log:1e-4:1e-2\"", "--random"},
      {"--grid \"lr=1e-3\" --folds 1", "--folds 1"},
      {"--grid \"lr=1e-3\" --parallel 0", "--parallel 0"},
      {"--grid \"out=a,b\"", "cannot be searched"},
      {"--grid \"lr=1,2\" --grid \"lr=3\"", "searched twice"},
      {"", "nothing to search"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_cli("search " + base() + " " + args + " -q --out " + dir);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
  }
  const auto reserved = run_cli("search --base \"--epochs 1 --out x.safetensors\" --grid \"lr=1e-3\" --out " + dir);
  EXPECT_NE(reserved.err.find("--base gives --out"), std::string::npos) << reserved.err;
  const auto twice = run_cli("search --base \"--lr 1e-3\" --grid \"lr=1e-3\" --out " + dir);
  EXPECT_NE(twice.err.find("both in --base and searched"), std::string::npos) << twice.err;
  EXPECT_FALSE(fs::exists(dir + "/trials.jsonl"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
