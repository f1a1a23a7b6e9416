// Subsets: class lists, class selection with renumbering, few-shot subsets (exact counts,
// determinism, nesting, seed dependence), relabelling by name, stratified splits and
// fingerprints, on small synthetic datasets whose images encode their index.
#include "mnistcnn/data/subset.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "mnistcnn/core/error.h"
#include "support/error_of.h"
#include "support/mnist_files.h"

namespace mnistcnn::data {
namespace {

// n images of 2×2; image i has every pixel = i % 256 and label labels(i).
Dataset synthetic(int64_t n, int classes, const std::function<int(int64_t)>& label_of) {
  Dataset ds;
  ds.rows = ds.cols = 2;
  ds.num_classes = classes;
  ds.source = "synthetic";
  for (int64_t i = 0; i < n; ++i) {
    ds.labels.push_back(static_cast<uint8_t>(label_of(i)));
    for (int p = 0; p < 4; ++p) ds.images.push_back(static_cast<uint8_t>(i % 256));
  }
  return ds;
}

using mnistcnn::testing::error_of;

TEST(ClassList, Parses) {
  EXPECT_EQ(parse_class_list("0-4"), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(parse_class_list("5,7,9"), (std::vector<int>{5, 7, 9}));
  EXPECT_EQ(parse_class_list("7,0-2"), (std::vector<int>{0, 1, 2, 7}));
  EXPECT_EQ(parse_class_list(" 3 , 1-2,2,3"), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(parse_class_list("4-4"), (std::vector<int>{4}));
}

TEST(ClassList, RefusesBadText) {
  for (const std::string bad : {"", "a", "1,,2", "3-", "-3", "5-3", "1-2-3", "1.5", "99999", "0-70000", "1;2"}) {
    const std::string msg = error_of([&] { parse_class_list(bad, "--classes"); });
    EXPECT_NE(msg.find("--classes '" + bad + "'"), std::string::npos) << bad << ": " << msg;
  }
  EXPECT_NE(error_of([] { parse_class_list("5-3"); }).find("backwards"), std::string::npos);
}

TEST(SelectClasses, RenumbersInListOrderAndKeepsNames) {
  const Dataset ds = synthetic(50, 10, [](int64_t i) { return static_cast<int>(i % 10); });
  const Dataset sub = select_classes(ds, resolve_classes(ds, parse_class_list("5-9")));
  EXPECT_EQ(sub.num_classes, 5);
  EXPECT_EQ(sub.class_names, (std::vector<std::string>{"5", "6", "7", "8", "9"}));
  ASSERT_EQ(sub.size(), 25);
  ASSERT_EQ(sub.images.size(), 25u * 4);
  for (int64_t j = 0; j < sub.size(); ++j) {
    const int original = sub.images[static_cast<size_t>(j * 4)];  // the image's index in ds
    EXPECT_EQ(original % 10, sub.labels[static_cast<size_t>(j)] + 5);
  }
  // Named classes (Fashion-MNIST): numbers are indices; the names follow.
  Dataset named = synthetic(20, 4, [](int64_t i) { return static_cast<int>(i % 4); });
  named.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress"};
  const Dataset two = select_classes(named, resolve_classes(named, parse_class_list("1,3")));
  EXPECT_EQ(two.class_names, (std::vector<std::string>{"Trouser", "Dress"}));
  EXPECT_EQ(class_counts(two), (std::vector<int64_t>{5, 5}));
}

TEST(SelectClasses, ResolvesByNameWhenNamesAreNumbers) {
  // A corrections folder with subfolders "3" and "7": --classes 7 means the folder "7".
  Dataset ds = synthetic(6, 2, [](int64_t i) { return static_cast<int>(i % 2); });
  ds.class_names = {"3", "7"};
  EXPECT_EQ(resolve_classes(ds, {7}), (std::vector<int>{1}));
  std::string msg = error_of([&] { resolve_classes(ds, {0, 1}); });
  EXPECT_NE(msg.find("classes 0, 1 not in the data"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3, 7"), std::string::npos) << msg;
  const Dataset mnist_like = synthetic(10, 10, [](int64_t i) { return static_cast<int>(i); });
  msg = error_of([&] { resolve_classes(mnist_like, {12}); });
  EXPECT_NE(msg.find("class 12 not in the data"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { select_classes(mnist_like, {2, 2}); }).find("twice"), std::string::npos);
  EXPECT_NE(error_of([&] { select_classes(mnist_like, {10}); }).find("outside"), std::string::npos);
}

TEST(PerClass, ExactCountsDeterministicNestedAndSeeded) {
  // Unbalanced classes: class c has 10 + 3c images, interleaved.
  std::vector<int> labels;
  for (int c = 0; c < 5; ++c)
    for (int k = 0; k < 10 + 3 * c; ++k) labels.push_back(c);
  for (size_t i = 0; i < labels.size(); ++i) std::swap(labels[i], labels[(i * 7) % labels.size()]);
  const Dataset ds = synthetic(static_cast<int64_t>(labels.size()), 5, [&](int64_t i) { return labels[size_t(i)]; });

  const PerClassSubset a = per_class(ds, 4, 11);
  EXPECT_EQ(class_counts(a.data), (std::vector<int64_t>{4, 4, 4, 4, 4}));
  EXPECT_TRUE(a.short_classes.empty());
  EXPECT_TRUE(std::is_sorted(a.indices.begin(), a.indices.end()));
  for (size_t j = 0; j < a.indices.size(); ++j)  // the kept images are the ones indexed, in order
    EXPECT_EQ(a.data.images[j * 4], static_cast<uint8_t>(a.indices[j]));
  EXPECT_EQ(per_class(ds, 4, 11).indices, a.indices);  // same seed, same subset
  EXPECT_NE(per_class(ds, 4, 12).indices, a.indices);  // another seed, another subset
  const PerClassSubset b = per_class(ds, 5, 11);       // n + 1 contains n
  const std::set<int64_t> bigger(b.indices.begin(), b.indices.end());
  for (int64_t i : a.indices) EXPECT_TRUE(bigger.count(i)) << i;

  // Classes with fewer images keep them all and are reported.
  const PerClassSubset c = per_class(ds, 15, 11);
  EXPECT_EQ(class_counts(c.data), (std::vector<int64_t>{10, 13, 15, 15, 15}));
  ASSERT_EQ(c.short_classes.size(), 2u);
  EXPECT_EQ(c.short_classes[0].label, 0);
  EXPECT_EQ(c.short_classes[0].available, 10);
  EXPECT_EQ(c.short_classes[1].label, 1);
  EXPECT_EQ(c.short_classes[1].available, 13);
  EXPECT_NE(error_of([&] { per_class(ds, 0, 1); }).find("at least 1"), std::string::npos);
}

TEST(PerClass, RealMnistFewShot) {
  MNISTCNN_REQUIRE_MNIST();
  const Dataset train = load_idx_split(testing::mnist_dir(), Split::Train);
  const PerClassSubset s = per_class(train, 10, 1);
  EXPECT_EQ(s.data.size(), 100);
  EXPECT_EQ(class_counts(s.data), std::vector<int64_t>(10, 10));
  EXPECT_EQ(fingerprint(s.data), fingerprint(per_class(train, 10, 1).data));
}

TEST(AlignToClasses, RelabelsByName) {
  Dataset corrections = synthetic(4, 2, [](int64_t i) { return static_cast<int>(i % 2); });
  corrections.class_names = {"3", "7"};
  const std::vector<std::string> digits = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  align_to_classes(corrections, digits);
  EXPECT_EQ(corrections.labels, (std::vector<uint8_t>{3, 7, 3, 7}));
  EXPECT_EQ(corrections.num_classes, 10);
  EXPECT_EQ(corrections.class_names, digits);
  // Implicit digit names align too; a class the model lacks is named.
  Dataset mnist_like = synthetic(10, 10, [](int64_t i) { return static_cast<int>(i); });
  const std::string msg = error_of([&] { align_to_classes(mnist_like, {"5", "6", "7", "8", "9"}); });
  EXPECT_NE(msg.find("classes 0, 1, 2, 3, 4 that the model does not know"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { align_to_classes(mnist_like, {"1", "1"}); }).find("twice"), std::string::npos);
}

TEST(StratifiedSplit, HoldsOutEachClassInProportion) {
  const Dataset ds = synthetic(103, 3, [](int64_t i) { return i < 50 ? 0 : i < 100 ? 1 : 2; });
  const auto [train, held] = stratified_split(ds, 0.2, 5);
  EXPECT_EQ(class_counts(take(ds, held)), (std::vector<int64_t>{10, 10, 1}));  // round(3 × 0.2) = 1
  EXPECT_EQ(train.size() + held.size(), 103u);
  std::set<int64_t> all(train.begin(), train.end());
  all.insert(held.begin(), held.end());
  EXPECT_EQ(all.size(), 103u);
  EXPECT_EQ(stratified_split(ds, 0.2, 5).second, held);
  EXPECT_NE(stratified_split(ds, 0.2, 6).second, held);
  // A one-image class keeps its image for training.
  const Dataset tiny = synthetic(3, 2, [](int64_t i) { return i == 0 ? 0 : 1; });
  EXPECT_EQ(class_counts(take(tiny, stratified_split(tiny, 0.9, 1).first)), (std::vector<int64_t>{1, 1}));
  EXPECT_NE(error_of([&] { stratified_split(ds, 1.0, 1); }).find("[0, 1)"), std::string::npos);
}

TEST(Fingerprint, ChangesWithContent) {
  const Dataset ds = synthetic(20, 2, [](int64_t i) { return static_cast<int>(i % 2); });
  const std::string fp = fingerprint(ds);
  EXPECT_EQ(fp.size(), 64u);
  EXPECT_EQ(fingerprint(ds), fp);
  Dataset pixel = ds;
  pixel.images[41] ^= 1;
  Dataset label = ds;
  label.labels[3] = 0;
  Dataset names = ds;
  names.class_names = {"cat", "dog"};
  Dataset order = take(ds, {1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  for (const Dataset* d : {&pixel, &label, &names, &order}) EXPECT_NE(fingerprint(*d), fp);
  Dataset bad = ds;
  bad.labels[0] = 9;  // outside the two classes: refused, never read out of bounds
  EXPECT_NE(error_of([&] { select_classes(bad, {0}); }).find("label 9"), std::string::npos);
  EXPECT_NE(error_of([&] { per_class(bad, 1, 1); }).find("label 9"), std::string::npos);
}

}  // namespace
}  // namespace mnistcnn::data
