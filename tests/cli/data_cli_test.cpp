// `mnistcnn data` as a user drives it: fetch and verify Fashion-MNIST when the files are
// already there (links to the real files, so nothing is copied and no network is used), and
// `data inspect` on IDX data and on an image folder with --classes and --per-class, and
// `eval` on an image folder naming its misjudged PNGs.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "mnistcnn/io/png.h"
#include "mnistcnn/io/safetensors.h"
#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

class DataCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("datacli"); }
  void TearDown() override { fs::remove_all(dir_); }
  // An image folder: class c has 5 + c PNGs of a bar whose width grows with c.
  std::string image_folder(const std::vector<std::string>& classes) {
    const std::string root = dir_ + "/folder";
    for (size_t c = 0; c < classes.size(); ++c) {
      fs::create_directories(root + "/" + classes[c]);
      for (size_t i = 0; i < 5 + c; ++i) {
        std::vector<uint8_t> px(36 * 36, 0);
        for (int y = 6; y < 30; ++y)
          for (int x = 10; x < 13 + static_cast<int>(c + i) % 9; ++x) px[static_cast<size_t>(y * 36 + x)] = 255;
        io::write_png_gray(root + "/" + classes[c] + "/" + std::to_string(i) + ".png", 36, 36, px.data());
      }
    }
    return root;
  }
  // A ten-digit model (flatten dense(10)) whose weights are all zero: it says "0" to everything.
  std::string zero_digit_model() {
    const std::string model = dir_ + "/digits.safetensors";
    Tensor w({10, 784}), b({10});
    io::write_safetensors(model, {{"1.weight", &w}, {"1.bias", &b}}, {{"arch", "flatten dense(10)"}});
    return model;
  }
  std::string dir_;
};

TEST_F(DataCli, FetchFashionKeepsVerifiedFilesAlreadyThere) {
  MNISTCNN_REQUIRE_FASHION();
  const std::string d = dir_ + "/fashion";
  fs::create_directories(d);
  for (const auto& e : fs::directory_iterator(testing::fashion_dir()))
    fs::create_symlink(fs::canonical(e.path()), d + "/" + e.path().filename().string());
  // No mirror that could answer and no fallback: it must not need one.
  auto r = run_cli("data fetch fashion-mnist --dir " + d + " --mirror file:///nonexistent/ --no-deb");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "fashion-mnist is ready in " + d + "\n");
  EXPECT_NE(r.err.find("all 4 files of fashion-mnist verified in " + d), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("downloading"), std::string::npos) << r.err;
  r = run_cli("data verify fashion-mnist --dir " + d);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("all 4 files of fashion-mnist verified"), std::string::npos) << r.out;
  // MNIST's hashes do not fit these files.
  r = run_cli("data verify mnist --dir " + d);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("sha256 mismatch"), std::string::npos) << r.out;
}

TEST_F(DataCli, InspectFashionWithClassesAndPerClass) {
  MNISTCNN_REQUIRE_FASHION();
  const auto r = run_cli("data inspect --data " + testing::fashion_dir() + " --classes 0,9 --per-class 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "idx");
  ASSERT_EQ(j["classes"].size(), 2u);
  EXPECT_EQ(j["classes"][0]["name"], "T-shirt/top");
  EXPECT_EQ(j["classes"][1]["name"], "Ankle boot");
  EXPECT_EQ(j["classes"][1]["label"], 1);
  EXPECT_EQ(j["classes"][0]["train"], 3);
  EXPECT_EQ(j["classes"][1]["test"], 1000);
  EXPECT_EQ(j["train_count"], 6);
  EXPECT_EQ(j["test_count"], 2000);
  // The seed picks the few-shot images; the test set does not depend on it.
  const auto other = nlohmann::json::parse(
      run_cli("data inspect --data " + testing::fashion_dir() + " --classes 0,9 --per-class 3 --seed 2 --json").out);
  EXPECT_NE(other["train_fingerprint"], j["train_fingerprint"]);
  EXPECT_EQ(other["test_fingerprint"], j["test_fingerprint"]);
}

TEST_F(DataCli, InspectImageFolder) {
  const std::string root = image_folder({"3", "7", "10"});  // 5, 6 and 7 images
  auto r = run_cli("data inspect --data " + root + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kind"], "image-folder");
  ASSERT_EQ(j["classes"].size(), 3u);
  EXPECT_EQ(j["classes"][2]["name"], "10");
  // 20% of each class held out: round(1.0), round(1.2), round(1.4).
  EXPECT_EQ(j["classes"][0]["test"], 1);
  EXPECT_EQ(j["classes"][2]["train"], 6);
  EXPECT_EQ(j["test_count"], 3);
  // Numbers name folders when every folder is a number; --test-split 1 is all of it.
  r = run_cli("data inspect --data " + root + " --classes 7,10 --test-split 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["classes"].size(), 2u);
  EXPECT_EQ(j["classes"][0]["name"], "7");
  EXPECT_EQ(j["test_count"], 13);
  EXPECT_TRUE(j["train_count"].is_null());
  // Plain text: a description, a table, the fingerprints; a short class is noted on stderr.
  r = run_cli("data inspect --data " + root + " --per-class 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("image folder of 18 PNGs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train fingerprint"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("--per-class 5: class 3 has only 4 training images; all kept"), std::string::npos) << r.err;
}

TEST_F(DataCli, InspectAlignsAFolderToAModelsClasses) {
  // A ten-digit model and a folder of corrections for two of its digits.
  const std::string model = zero_digit_model();
  const std::string root = image_folder({"3", "7"});
  auto r = run_cli("data inspect --data " + root + " --test-split 1 --model " + model + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["classes"].size(), 10u);
  EXPECT_EQ(j["classes"][3]["test"], 5);  // folder "3" is the model's class 3
  EXPECT_EQ(j["classes"][7]["test"], 6);
  EXPECT_EQ(j["classes"][0]["test"], 0);
  // A folder the model has no class for is named, with the way out.
  fs::rename(root + "/7", root + "/seven");
  r = run_cli("data inspect --data " + root + " --test-split 1 --model " + model);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has class seven that the model does not know"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--classes"), std::string::npos) << r.err;
}

// eval on an image folder names each misjudged image by its PNG (a model of zero weights
// says "0" to everything, so every 3 and 7 is wrong).
TEST_F(DataCli, EvalNamesEachMisjudgedPngByItsFile) {
  const std::string model = zero_digit_model();
  const std::string root = image_folder({"3", "7"});
  const auto r = run_cli("eval --model " + model + " --data " + root + " --test-split 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto wrong = nlohmann::json::parse(r.out).at("misclassified");
  ASSERT_EQ(wrong.size(), 11u);
  std::set<std::string> files;
  for (const auto& x : wrong) {
    const fs::path file = x.at("file").get<std::string>();
    EXPECT_TRUE(fs::is_regular_file(file)) << file;
    EXPECT_EQ(file.parent_path().filename().string(), x.at("label").get<std::string>());
    EXPECT_FALSE(x.contains("source_index"));
    files.insert(file.string());
  }
  EXPECT_EQ(files.size(), 11u);
}

}  // namespace
}  // namespace mnistcnn
