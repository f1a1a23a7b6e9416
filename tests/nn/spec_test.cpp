// The architecture spec: parsing, positional and keyword arguments, round trips through
// the registry, and errors that name the layer and the shapes.
#include <gtest/gtest.h>

#include "mnistcnn/core/error.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/nn/spec.h"
#include "mnistcnn/train/presets.h"

namespace mnistcnn {
namespace {

std::string error_of(const std::string& spec) {
  try {
    nn::Sequential::from_spec(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Spec, ParsesPositionalAndKeywordArguments) {
  auto layers = nn::parse_spec("conv(32,3) relu maxpool(2) conv(64, 3, stride=1, pad=1) relu avgpool(2) flatten dropout(0.5) dense(128) relu dense(10)");
  ASSERT_EQ(layers.size(), 11u);
  EXPECT_EQ(layers[0].kind, "conv");
  EXPECT_EQ(layers[0].positional, (std::vector<std::string>{"32", "3"}));
  EXPECT_EQ(layers[3].named.at("pad"), "1");
  EXPECT_EQ(layers[6].kind, "flatten");
}

TEST(Spec, IssueExampleBuildsAndRoundTrips) {
  const std::string spec =
      "conv(32,3) relu maxpool(2) conv(64,3,stride=1,pad=1) relu avgpool(2) flatten dropout(0.5) dense(128) relu dense(10)";
  nn::Sequential net = nn::Sequential::from_spec(spec);
  EXPECT_EQ(net.shapes(1).back(), (Shape{1, 10}));
  // Canonical form drops defaults; it rebuilds the same network, whose spec is stable.
  const std::string canonical = net.spec();
  EXPECT_EQ(canonical, "conv(32,3) relu maxpool(2) conv(64,3,pad=1) relu avgpool(2) flatten dropout(0.5) dense(128) relu dense(10)");
  nn::Sequential again = nn::Sequential::from_spec(canonical);
  EXPECT_EQ(again.spec(), canonical);
  EXPECT_EQ(again.param_count(), net.param_count());
}

TEST(Spec, AliasesAndKeywordsAreAccepted) {
  nn::Sequential net = nn::Sequential::from_spec("Conv2d(out=8, kernel=5, stride=2) ReLU MaxPool2d(kernel=2) Flatten Linear(10)");
  EXPECT_EQ(net.spec(), "conv(8,5,stride=2) relu maxpool(2) flatten dense(10)");
}

TEST(Spec, AccuracyLayersRoundTrip) {
  nn::Sequential net = nn::Sequential::from_spec(
      "conv(8,3,pad=same) BatchNorm2d LeakyReLU conv(16,5,pad=valid) bn elu gelu lrelu(slope=0.2) elu(alpha=0.5) "
      "globalavgpool flatten dense(10)");
  const std::string canonical =
      "conv(8,3,pad=same) batchnorm leakyrelu(0.01) conv(16,5) batchnorm elu(1) gelu leakyrelu(0.2) elu(0.5) gap "
      "flatten dense(10)";
  EXPECT_EQ(net.spec(), canonical);
  EXPECT_EQ(nn::Sequential::from_spec(canonical).spec(), canonical);
  // Float parameters print as written, not as their double expansion.
  EXPECT_EQ(nn::Sequential::from_spec("flatten dropout(0.3) leakyrelu(0.1) dense(10)").spec(),
            "flatten dropout(0.3) leakyrelu(0.1) dense(10)");
  const auto shapes = net.shapes(2);
  EXPECT_EQ(shapes[0], (Shape{2, 8, 28, 28})) << "pad=same keeps 28×28";
  EXPECT_EQ(shapes[9], (Shape{2, 16, 1, 1})) << "gap keeps 1×1, as AdaptiveAvgPool2d(1)";
  EXPECT_EQ(shapes.back(), (Shape{2, 10}));
}

TEST(Spec, SamePaddingIsRefusedWhereItCannotBeSymmetric) {
  EXPECT_NE(error_of("conv(8,3,stride=2,pad=same) flatten dense(10)").find("needs stride 1"), std::string::npos);
  EXPECT_NE(error_of("conv(8,4,pad=same) flatten dense(10)").find("odd kernel"), std::string::npos);
  EXPECT_NE(error_of("conv(8,3,pad=full) flatten dense(10)").find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of("gap dense(10)").find("flatten"), std::string::npos);
  EXPECT_NE(error_of("flatten gap").find("N×C×H×W"), std::string::npos);
  EXPECT_NE(error_of("elu(-1)").find("out of range"), std::string::npos);
}

TEST(Spec, EveryPresetRoundTrips) {
  for (const auto& p : train::presets()) {
    nn::Sequential net = nn::Sequential::from_spec(p.spec);
    EXPECT_EQ(net.spec(), p.spec) << p.name;
  }
}

TEST(Spec, ParameterNamesFollowPyTorchSequential) {
  nn::Sequential net = nn::Sequential::from_spec(train::find_preset("keras-mnist")->spec);
  std::vector<std::string> names;
  for (auto* p : net.params()) names.push_back(p->name + p->value.shape().str());
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight[32, 1, 3, 3]", "0.bias[32]", "3.weight[64, 32, 3, 3]",
                                             "3.bias[64]", "7.weight[10, 1600]", "7.bias[10]"}));
  EXPECT_EQ(net.param_count(), 34826);
}

TEST(Spec, CollapsingShapesNameTheLayer) {
  const std::string e = error_of("conv(8,30) relu flatten dense(10)");
  EXPECT_NE(e.find("layer 0"), std::string::npos) << e;
  EXPECT_NE(e.find("conv(8,30)"), std::string::npos) << e;
  EXPECT_NE(e.find("[1, 1, 28, 28]"), std::string::npos) << e;
  const std::string e2 = error_of("conv(8,3) maxpool(2) maxpool(2) maxpool(2) maxpool(2) maxpool(2) flatten dense(10)");
  EXPECT_NE(e2.find("layer 5"), std::string::npos) << e2;
}

TEST(Spec, AbsurdSizesAreRefusedBeforeAllocating) {
  // Found by fuzz/spec_fuzz.cpp: each of these used to allocate gigabytes (or overflow).
  EXPECT_NE(error_of("flatten dense(65536) dense(65536)").find("more than the limit"), std::string::npos);
  EXPECT_NE(error_of("conv(65536,1024,pad=512)").find("limit"), std::string::npos);
  EXPECT_NE(error_of("conv(6,3) relu maxpool(1) flatten dense(61350)").find("weights, more than the limit"),
            std::string::npos);
  std::string deep;
  for (int i = 0; i < 25; ++i) deep += "conv(1,1,pad=1024) ";
  const std::string e = error_of(deep + "conv(65536,1) flatten dense(65536)");
  EXPECT_NE(e.find("limit"), std::string::npos) << e;
}

TEST(Spec, SyntaxAndArgumentErrors) {
  EXPECT_NE(error_of("conv(32,3").find("not closed"), std::string::npos);
  EXPECT_NE(error_of("conv(32,3) bogus dense(10)").find("unknown layer 'bogus'"), std::string::npos);
  EXPECT_NE(error_of("conv(abc,3) flatten dense(10)").find("must be an integer"), std::string::npos);
  EXPECT_NE(error_of("conv(0,3) flatten dense(10)").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("conv(8,3,wat=1) flatten dense(10)").find("unknown argument 'wat'"), std::string::npos);
  EXPECT_NE(error_of("dropout(1.5) flatten dense(10)").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("dense(10)").find("put flatten before dense"), std::string::npos);
  EXPECT_NE(error_of("flatten conv(3,3)").find("N×C×H×W"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("conv(99999999,3) flatten dense(10)").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("conv(8,3,stride=1,1)").find("after a named"), std::string::npos);
}

}  // namespace
}  // namespace mnistcnn
