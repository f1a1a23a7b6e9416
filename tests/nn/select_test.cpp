// Layer selection for freezing and learning-rate groups: indices and ranges as `arch
// show` numbers them, kinds, keywords, and errors that name the bad part.
#include "mnistcnn/nn/select.h"

#include <gtest/gtest.h>

#include "mnistcnn/core/error.h"

namespace mnistcnn {
namespace {

using Idx = std::vector<size_t>;
// 0 conv 1 relu 2 maxpool 3 conv 4 relu 5 maxpool 6 flatten 7 dense 8 relu 9 dense 10 softmax
const char* kNet = "conv(4,3) relu maxpool(2) conv(8,3) relu maxpool(2) flatten dense(16) relu dense(10) softmax";

TEST(Select, IndicesRangesKindsAndKeywords) {
  const nn::Sequential net = nn::Sequential::from_spec(kNet);
  EXPECT_EQ(nn::select_layers(net, "3"), (Idx{3}));
  EXPECT_EQ(nn::select_layers(net, "0-2, 9"), (Idx{0, 1, 2, 9}));
  EXPECT_EQ(nn::select_layers(net, "8-"), (Idx{8, 9, 10}));
  EXPECT_EQ(nn::select_layers(net, "-1"), (Idx{0, 1}));
  EXPECT_EQ(nn::select_layers(net, "conv"), (Idx{0, 3}));
  EXPECT_EQ(nn::select_layers(net, "linear"), (Idx{7, 9}));  // alias of dense
  EXPECT_EQ(nn::select_layers(net, "features"), (Idx{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(nn::select_layers(net, "head"), (Idx{9, 10}));
  EXPECT_EQ(nn::select_layers(net, "all-but-last"), (Idx{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(nn::select_layers(net, "all").size(), 11u);
  EXPECT_EQ(nn::head_start(net), 9u);
}

TEST(Select, ErrorsNameThePart) {
  const nn::Sequential net = nn::Sequential::from_spec(kNet);
  for (const char* bad : {"", "11", "5-3", "0-99", "bogus", "1,,2", "dropout", "a-b", "-"}) {
    try {
      nn::select_layers(net, bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("layer selection"), std::string::npos) << e.what();
    }
  }
}

TEST(Select, SetTrainableTouchesOnlyTheChosenLayers) {
  nn::Sequential net = nn::Sequential::from_spec(kNet);
  nn::set_trainable(net, nn::select_layers(net, "features"), false);
  for (nn::Param* p : net.params()) EXPECT_EQ(p->trainable, p->name[0] == '7' || p->name[0] == '9') << p->name;
}

}  // namespace
}  // namespace mnistcnn
