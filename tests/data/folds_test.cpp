// K-fold splits: folds are disjoint, cover the pool, are stratified and seeded; and the
// I/K text is checked.
#include "mnistcnn/data/folds.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "support/error_of.h"

namespace mnistcnn {
namespace {

data::Dataset labelled(int n) {
  data::Dataset d;
  d.rows = d.cols = 2;
  for (int i = 0; i < n; ++i) {
    d.labels.push_back(static_cast<uint8_t>((i * 7) % 10));
    for (int p = 0; p < 4; ++p) d.images.push_back(static_cast<uint8_t>(i));
  }
  return d;
}

TEST(Folds, DisjointValidationFoldsCoverThePoolAndTrainIsTheRest) {
  const data::Dataset ds = labelled(103);
  std::vector<int64_t> pool;
  for (int64_t i = 0; i < 103; i += 1) if (i % 4 != 0) pool.push_back(i);  // 77 images
  std::multiset<int64_t> all_val;
  for (int f = 1; f <= 5; ++f) {
    const auto [train, val] = data::k_fold(ds, pool, {f, 5}, 9);
    EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
    EXPECT_TRUE(std::is_sorted(val.begin(), val.end()));
    EXPECT_EQ(train.size() + val.size(), pool.size());
    EXPECT_GE(val.size(), 15u);
    EXPECT_LE(val.size(), 16u);
    for (int64_t i : train) EXPECT_FALSE(std::binary_search(val.begin(), val.end(), i));
    all_val.insert(val.begin(), val.end());
  }
  EXPECT_EQ(std::vector<int64_t>(all_val.begin(), all_val.end()), pool) << "each image validated exactly once";
}

TEST(Folds, StratifiedSeededAndTheWholeSetByDefault) {
  const data::Dataset ds = labelled(200);  // 20 per class
  const auto [train, val] = data::k_fold(ds, {}, {2, 4}, 1);
  EXPECT_EQ(train.size() + val.size(), 200u);
  std::vector<int> per_class(10, 0);
  for (int64_t i : val) ++per_class[ds.labels[static_cast<size_t>(i)]];
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], 5) << "class " << c;
  EXPECT_EQ(data::k_fold(ds, {}, {2, 4}, 1).second, val);
  EXPECT_NE(data::k_fold(ds, {}, {2, 4}, 2).second, val);
}

TEST(Folds, ParseFoldChecksTheText) {
  EXPECT_EQ(data::parse_fold("2/5").fold, 2);
  EXPECT_EQ(data::parse_fold("5/5").folds, 5);
  for (const char* bad : {"0/3", "4/3", "1/1", "1/0", "", "1", "a/b", "1/3/4", "-1/3", "1/ 3"}) {
    const std::string msg = testing::error_of([&] { data::parse_fold(bad); });
    EXPECT_NE(msg.find("--val-fold"), std::string::npos) << bad << ": " << msg;
  }
  EXPECT_NE(testing::error_of([&] { data::k_fold(labelled(3), {}, {1, 5}, 0); }).find("5 folds"), std::string::npos);
}

}  // namespace
}  // namespace mnistcnn
