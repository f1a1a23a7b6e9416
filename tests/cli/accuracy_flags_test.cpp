// train's accuracy flags through the real program: --l1/--l2 in the log's loss and in the
// resume check, --val-fold (and its refusals), --no-test leaving the test set alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

using testing::run_cli;
const std::string kTiny = "--arch \"conv(4,3) relu maxpool(2) flatten dense(10)\" --limit 2000 --threads 2";

std::string train(const std::string& dir, const std::string& extra, int epochs = 1) {
  return "train " + kTiny + " --epochs " + std::to_string(epochs) + " --data " + testing::mnist_dir() + " -q --json --out " + dir + "/m.safetensors " + extra;
}

TEST(AccuracyFlags, PenaltyIsInTheTrainingLossAndResumeRefusesOtherValues) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("penalty_cli");
  const auto plain = run_cli(train(dir, "--val-split 0.1"));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto pen = run_cli(train(dir, "--val-split 0.1 --l2 \"conv=0.5;head=0.1\" --checkpoint-dir " + dir + "/ck"));
  ASSERT_EQ(pen.exit_code, 0) << pen.err;
  const auto a = nlohmann::json::parse(plain.out), b = nlohmann::json::parse(pen.out);
  EXPECT_GT(b["epochs"][0]["train_loss"].get<double>(), a["epochs"][0]["train_loss"].get<double>() + 0.05);
  EXPECT_EQ(b["recipe"]["l2"], "conv=0.5;head=0.1");
  const auto other = run_cli(train(dir, "--val-split 0.1 --l2 0.1 --resume " + dir + "/ck", 2));
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("l2"), std::string::npos) << other.err;
  const auto none = run_cli(train(dir, "--val-split 0.1 --resume " + dir + "/ck", 2));
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("l2 = conv=0.5;head=0.1"), std::string::npos) << none.err;
  std::filesystem::remove_all(dir);
}

TEST(AccuracyFlags, DryRunChecksTheFlagsWithoutReadingData) {
  const std::string dir = testing::make_temp_dir("dry_run");
  const std::string arch = "--arch \"conv(4,3) relu maxpool(2) flatten dense(10)\" --data " + dir + "/no-such-data";
  const auto ok = run_cli("train " + arch + " --l2 \"conv=1e-4\" --val-fold 1/3 --no-test --dry-run --json");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["dry_run"], true);
  const auto bad_group = run_cli("train " + arch + " --l2 \"relu=1e-4\" --dry-run");
  EXPECT_EQ(bad_group.exit_code, 1);
  EXPECT_NE(bad_group.err.find("--l2 'relu'"), std::string::npos) << bad_group.err;
  const auto on_test = run_cli("train " + arch + " --no-test --dry-run");
  EXPECT_EQ(on_test.exit_code, 1);
  EXPECT_NE(on_test.err.find("--no-test"), std::string::npos) << on_test.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/no-such-data"));
  std::filesystem::remove_all(dir);
}

TEST(AccuracyFlags, BadPenaltySpecsNameTheFlag) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("penalty_bad");
  for (const std::string bad : {"--l2 abc", "--l1 -0.1", "--l2 \"bogus=1\"", "--l1 \"conv=1;relu=1\""}) {
    const auto r = run_cli(train(dir, "--val-split 0.1 " + bad));
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find(bad.substr(0, 4)), std::string::npos) << bad << ": " << r.err;
  }
  std::filesystem::remove_all(dir);
}

TEST(AccuracyFlags, ValFoldValidatesOnAFoldAndNoTestSkipsTheTestSet) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("fold_cli");
  const auto r = run_cli(train(dir, "--val-fold 2/4 --no-test"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.contains("test_accuracy"));
  EXPECT_FALSE(j.contains("test_loss"));
  EXPECT_FALSE(j.contains("test_count"));
  EXPECT_TRUE(j["epochs"][0].contains("val_accuracy"));
  // 2,000 images in 4 folds: 1,500 trained on.
  EXPECT_NEAR(j["epochs"][0]["images_per_second"].get<double>() * j["epochs"][0]["epoch_seconds"].get<double>(), 1500, 0.01);
  const auto info = run_cli("info --json " + dir + "/m.safetensors");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(info.out.find("test_accuracy"), std::string::npos);

  const auto on_test = run_cli(train(dir, "--val-split 0 --no-test"));
  EXPECT_EQ(on_test.exit_code, 1);
  EXPECT_NE(on_test.err.find("--no-test"), std::string::npos) << on_test.err;
  for (const std::string bad : {"0/3", "4/3", "1/1"}) {
    const auto b = run_cli(train(dir, "--val-fold " + bad));
    EXPECT_NE(b.exit_code, 0) << bad;
    EXPECT_NE(b.err.find("--val-fold " + bad), std::string::npos) << b.err;
  }
  const auto both = run_cli(train(dir, "--val-fold 1/3 --val-split 0.1"));
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
