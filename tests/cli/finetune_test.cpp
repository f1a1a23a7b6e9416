// Fine-tuning through the real program: a new head on a subset of classes, frozen
// layers that stay bit for bit, the load report, gradual unfreezing, and clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "mnistcnn/io/model_file.h"
#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

bool same_tensor(io::LoadedModel& a, io::LoadedModel& b, const std::string& name) {
  for (nn::Param* p : a.net.params())
    for (nn::Param* q : b.net.params())
      if (p->name == name && q->name == name) {
        if (p->value.shape() != q->value.shape()) return false;
        for (int64_t i = 0; i < p->value.numel(); ++i)
          if (p->value[i] != q->value[i]) return false;
        return true;
      }
  ADD_FAILURE() << "no tensor " << name;
  return false;
}

class Finetune : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_mnist()) return;
    dir_ = new std::string(testing::make_temp_dir("finetune"));
    // A keras-mnist convnet on digits 0-4 (five outputs named 0..4).
    const auto r = run_cli("train --preset keras-mnist --data " + testing::mnist_dir() +
                           " --classes 0-4 --limit 3000 --epochs 1 --no-val -q --out " + *dir_ + "/base.safetensors");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    if (dir_) fs::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  static std::string* dir_;
};
std::string* Finetune::dir_ = nullptr;

TEST_F(Finetune, NewHeadOnOtherClassesWithFrozenFeatures) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string base = *dir_ + "/base.safetensors", out = *dir_ + "/ft.safetensors";
  io::LoadedModel before = io::load_model(base);
  EXPECT_EQ(before.info.classes, (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  const auto r = run_cli("finetune --from " + base + " --data " + testing::mnist_dir() +
                         " --classes 5-9 --limit 2000 --new-head 5 --freeze features --epochs 1 --no-val --json -q --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["recipe"]["frozen_layers"], nlohmann::json::array({0, 3}));
  EXPECT_EQ(j["recipe"]["loaded"], nlohmann::json::array({"0.weight", "0.bias", "3.weight", "3.bias"}));
  EXPECT_EQ(j["recipe"]["initialised"], nlohmann::json::array({"7.weight", "7.bias"}));
  EXPECT_DOUBLE_EQ(j["recipe"]["lr"].get<double>(), 1e-4);  // a tenth of keras-mnist's 1e-3
  EXPECT_GT(j["test_accuracy"].get<double>(), 0.7);  // digits 5-9 from features learnt on 0-4
  EXPECT_EQ(j["test_count"].get<int64_t>(), 4861);   // the test images of 5-9
  io::LoadedModel after = io::load_model(out);
  EXPECT_EQ(after.info.classes, (std::vector<std::string>{"5", "6", "7", "8", "9"}));
  EXPECT_TRUE(same_tensor(before, after, "0.weight"));
  EXPECT_TRUE(same_tensor(before, after, "3.bias"));
  EXPECT_FALSE(same_tensor(before, after, "7.weight"));
  // Eval relabels 5-9 to the model's classes by name.
  const auto e = run_cli("eval --model " + out + " --data " + testing::mnist_dir() + " --classes 5-9 --json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(e.out)["accuracy"].get<double>(), j["test_accuracy"].get<double>());
}

TEST_F(Finetune, GradualUnfreezingReleasesOneLayerPerEpochFromTheTop) {
  MNISTCNN_REQUIRE_MNIST();
  const auto r = run_cli("finetune --from " + *dir_ + "/base.safetensors --data " + testing::mnist_dir() +
                         " --classes 0-4 --limit 500 --freeze conv --unfreeze-after 1 --gradual --epochs 3 --no-val"
                         " --lr-mult 'features=0.1' --out " + *dir_ + "/g.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("epoch 2: frozen layers 0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("epoch 3: frozen layers none"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("loaded 6 tensors"), std::string::npos) << r.err;
}

TEST_F(Finetune, ClearErrors) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string base = *dir_ + "/base.safetensors", d = " --data " + testing::mnist_dir();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--from " + *dir_ + "/none.safetensors" + d, "none.safetensors"},
      {"--from " + base + d + " --freeze 42", "layer 42 does not exist"},
      {"--from " + base + d + " --freeze bogus", "unknown part 'bogus'"},
      {"--from " + base + d + " --new-head 0", "--new-head 0"},
      {"--from " + base + d + " --new-head 'dense(3'", "not closed"},
      {"--from " + base + d + " --new-head 3", "the data has 10 classes"},
      {"--from " + base + d, "5"},  // digits 5-9 are not classes of a 0-4 model
      {"--from " + base + d + " --classes 0-4 --lr-mult 'features'", "LAYERS=FACTOR"},
      {"--from " + base + d + " --classes 0-4 --lr-mult 'features=-1'", "factor"},
      {"--from " + base + d + " --arch 'conv(8,3) flatten dense(5)' --classes 0-4", "no tensor of the file fits"},
  };
  for (const auto& [args, needle] : cases) {
    const auto r = run_cli("finetune " + args + " --epochs 1 -q --out " + *dir_ + "/bad.safetensors");
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(*dir_ + "/bad.safetensors")) << args;
  }
}

}  // namespace
}  // namespace mnistcnn
