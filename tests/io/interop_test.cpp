// PyTorch interop without Python: a state_dict of a PyTorch module with named layers loads
// with --rename and gives PyTorch's logits; an mnistcnn model file loaded into PyTorch with
// load_state_dict(strict=True) gave the logits mnistcnn computes. Fixture and script:
// tests/fixtures/interop/, scripts/make_interop_fixture.py.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/io/safetensors.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

const std::string kDir = std::string(MNISTCNN_SOURCE_DIR) + "/tests/fixtures/interop/";
const char* kArch = "conv(32,3) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(10)";

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < got.numel(); ++i) EXPECT_NEAR(got[i], want[i], tol) << i;
}

TEST(Interop, PyTorchStateDictWithNamedLayersGivesPyTorchsLogits) {
  const auto expected = io::read_safetensors(kDir + "interop_expected.safetensors");
  io::LoadedModel m = io::load_model(kDir + "torch_named_state_dict.safetensors", kArch,
                                     io::parse_renames("conv1.=0.,conv2.=3.,fc.=7."));
  const Tensor& logits = m.net.forward(*expected.find("x"), nn::Mode::Eval);
  expect_close(logits, *expected.find("torch_logits"), 2e-5);
  // Without the renames the names do not match, and the error says what to do.
  try {
    io::load_model(kDir + "torch_named_state_dict.safetensors", kArch);
    ADD_FAILURE() << "loaded without renames";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
  // Without an architecture: a hint to give one.
  try {
    io::load_model(kDir + "torch_named_state_dict.safetensors");
    ADD_FAILURE() << "loaded without an architecture";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--arch"), std::string::npos) << e.what();
  }
}

TEST(Interop, MnistcnnModelInPyTorchGaveOurLogits) {
  const auto expected = io::read_safetensors(kDir + "interop_expected.safetensors");
  io::LoadedModel m = io::load_model(kDir + "mnistcnn_keras_mnist.safetensors");
  const Tensor& logits = m.net.forward(*expected.find("x"), nn::Mode::Eval, m.net.logits_end());
  expect_close(logits, *expected.find("mnistcnn_logits_in_torch"), 2e-5);
}

TEST(Interop, ImportWritesAModelFileThatEvalAndPredictUse) {
  const std::string dir = testing::make_temp_dir("import");
  const auto r = testing::run_cli("import --from " + kDir + "torch_named_state_dict.safetensors --arch '" + kArch +
                                  "' --rename conv1.=0.,conv2.=3.,fc.=7. --out " + dir + "/m.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("conv1.weight as 0.weight"), std::string::npos) << r.err;
  const auto expected = io::read_safetensors(kDir + "interop_expected.safetensors");
  io::LoadedModel m = io::load_model(dir + "/m.safetensors");
  expect_close(m.net.forward(*expected.find("x"), nn::Mode::Eval), *expected.find("torch_logits"), 2e-5);
  const auto bad = testing::run_cli("import --from " + kDir + "torch_named_state_dict.safetensors --arch '" + kArch +
                                    "' --out " + dir + "/bad.safetensors");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--rename"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.safetensors"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
