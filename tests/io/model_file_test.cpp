// Model files: save -> load rebuilds the same network with bit-identical logits and
// metadata; damaged or mismatched files are refused with the tensor named.
#include "mnistcnn/io/model_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/safetensors.h"
#include "mnistcnn/train/presets.h"
#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("mnistcnn_model_test_" + name)).string();
}

TEST(ModelFile, SaveLoadGivesBitIdenticalLogits) {
  for (const auto& preset : train::presets()) {
    nn::Sequential net = nn::Sequential::from_spec(preset.spec);
    net.init(preset.recipe.init, 11);
    // Glorot init gives zero biases; set them so the round trip covers them.
    for (auto* p : net.params())
      if (p->name.ends_with("bias")) p->value = testing::random_tensor(p->value.shape(), 3);
    io::ModelInfo info;
    info.normalization = data::Normalization::standardize();
    info.provenance = {{"preset", preset.name}, {"seed", "11"}};
    const std::string path = temp_path(preset.name + ".safetensors");
    io::save_model(path, net, info);
    io::LoadedModel m = io::load_model(path);
    EXPECT_EQ(m.info.arch, preset.spec);
    EXPECT_EQ(m.info.normalization.mean, 0.1307f);
    EXPECT_EQ(m.info.normalization.std, 0.3081f);
    EXPECT_EQ(m.info.provenance.at("preset"), preset.name);
    const Tensor x = testing::random_tensor({3, 1, 28, 28}, 5);
    const Tensor a = net.forward(x, nn::Mode::Eval);
    const Tensor& b = m.net.forward(x, nn::Mode::Eval);
    ASSERT_EQ(a.shape(), b.shape());
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]) << preset.name << " logit " << i;
    std::filesystem::remove(path);
  }
}

std::string load_error(const std::string& path) {
  try {
    io::load_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelFile, RefusesMissingExtraAndMisShapedTensors) {
  nn::Sequential net = nn::Sequential::from_spec("flatten dense(10)");
  net.init(nn::Init::Torch, 1);
  const std::map<std::string, std::string> meta = {{"arch", "flatten dense(10)"}, {"format_version", "1"}};
  const std::string path = temp_path("bad.safetensors");
  Tensor w({10, 784}), b({10}), wrong({10, 783}), extra({3});
  io::write_safetensors(path, {{"1.weight", &w}}, meta);
  EXPECT_NE(load_error(path).find("'1.bias' of the architecture is missing"), std::string::npos) << load_error(path);
  io::write_safetensors(path, {{"1.weight", &wrong}, {"1.bias", &b}}, meta);
  EXPECT_NE(load_error(path).find("[10, 783]"), std::string::npos) << load_error(path);
  io::write_safetensors(path, {{"1.weight", &w}, {"1.bias", &b}, {"9.weight", &extra}}, meta);
  EXPECT_NE(load_error(path).find("'9.weight' is not part"), std::string::npos) << load_error(path);
  io::write_safetensors(path, {{"1.weight", &w}, {"1.bias", &b}}, {{"format_version", "1"}});
  EXPECT_NE(load_error(path).find("no architecture"), std::string::npos);
  io::write_safetensors(path, {{"1.weight", &w}, {"1.bias", &b}}, {{"arch", "flatten bogus(3)"}});
  EXPECT_NE(load_error(path).find("unknown layer 'bogus'"), std::string::npos) << load_error(path);
  io::write_safetensors(path, {{"1.weight", &w}, {"1.bias", &b}}, {{"arch", "flatten dense(10)"}, {"normalization", "{oops"}});
  EXPECT_NE(load_error(path).find("not valid JSON"), std::string::npos) << load_error(path);
  // A preprocessing step this build does not know is refused, not skipped.
  io::write_safetensors(path, {{"1.weight", &w}, {"1.bias", &b}},
                        {{"arch", "flatten dense(10)"}, {"normalization", R"({"mean": 0, "std": 1, "invert": true})"}});
  EXPECT_NE(load_error(path).find("normalization has 'invert', unknown to this build"), std::string::npos)
      << load_error(path);
  // A width normalisation that no 28-pixel-wide digit can take, or not a whole number of pixels.
  for (const char* width : {"0", "29", "-3", "14.5", "\"14\"", "18446744073709551615"}) {
    io::write_safetensors(path, {{"1.weight", &w}, {"1.bias", &b}},
                          {{"arch", "flatten dense(10)"},
                           {"normalization", std::string(R"({"mean": 0, "std": 1, "width": )") + width + "}"}});
    EXPECT_NE(load_error(path).find("normalization width must be a whole number of pixels from 1 to the image width (28)"),
              std::string::npos)
        << width << ": " << load_error(path);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mnistcnn
