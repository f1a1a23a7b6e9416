// Augmentation in the Loader: an image's augmentation depends on (seed, epoch, dataset
// index) only, not on batch size, shuffling or thread count; it is normalised like the
// plain path; "none" gives exactly the plain batches. Shifted views for test-time augmentation.
#include <gtest/gtest.h>

#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn {
namespace {

// 40 distinct 28×28 digits-like images: a bar whose position and length vary.
data::Dataset synthetic() {
  data::Dataset ds;
  for (int i = 0; i < 40; ++i) {
    std::vector<uint8_t> img(784, 0);
    for (int y = 4 + i % 7; y < 18 + i % 9; ++y)
      for (int x = 8 + i % 11; x < 12 + i % 11; ++x) img[static_cast<size_t>(y * 28 + x)] = static_cast<uint8_t>(120 + 3 * i);
    ds.images.insert(ds.images.end(), img.begin(), img.end());
    ds.labels.push_back(static_cast<uint8_t>(i % 10));
  }
  return ds;
}

// Every image of one epoch, in loader order, and the labels.
std::vector<std::vector<float>> epoch_images(data::Loader& loader, int64_t epoch, std::vector<int32_t>* labels = nullptr) {
  loader.start_epoch(epoch);
  std::vector<std::vector<float>> out;
  Tensor x;
  std::vector<int32_t> y;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    loader.batch(b, x, y);
    for (int64_t i = 0; i < x.dim(0); ++i) out.emplace_back(x.data() + i * 784, x.data() + (i + 1) * 784);
    if (labels) labels->insert(labels->end(), y.begin(), y.end());
  }
  return out;
}

TEST(LoaderAugment, SameImageAtAnyBatchSizeOrderAndThreadCount) {
  const data::Dataset ds = synthetic();
  const auto opt = data::augment_preset("strong");
  kernels::set_num_threads(1);
  data::Loader a(ds, {}, 7, false, 11, data::Normalization::standardize());
  a.set_augment(opt);
  const auto want = epoch_images(a, 2);
  kernels::set_num_threads(2);
  data::Loader b(ds, {}, 16, false, 11, data::Normalization::standardize());
  b.set_augment(opt);
  EXPECT_EQ(epoch_images(b, 2), want);

  // Shuffled, over a subset, in batches of 5: each image is still its index's image.
  std::vector<int64_t> subset;
  for (int64_t i = 0; i < 40; i += 3) subset.push_back(i);
  data::Loader c(ds, subset, 5, true, 11, data::Normalization::standardize());
  c.set_augment(opt);
  std::vector<int32_t> labels;
  const auto shuffled = epoch_images(c, 2, &labels);
  kernels::set_num_threads(0);
  ASSERT_EQ(shuffled.size(), subset.size());
  int64_t in_order = 0;
  for (size_t k = 0; k < shuffled.size(); ++k) {
    int64_t found = -1;
    for (int64_t i : subset)
      if (want[static_cast<size_t>(i)] == shuffled[k]) found = i;
    ASSERT_GE(found, 0) << "image " << k << " of the shuffled epoch matches no index's augmentation";
    EXPECT_EQ(labels[k], ds.labels[static_cast<size_t>(found)]);
    in_order += found == subset[k];
  }
  EXPECT_LT(in_order, static_cast<int64_t>(subset.size())) << "the epoch was shuffled";
}

TEST(LoaderAugment, EachEpochDrawsAfresh) {
  const data::Dataset ds = synthetic();
  data::Loader loader(ds, {}, 8, false, 3, data::Normalization::scale());
  loader.set_augment(data::augment_preset("standard"));
  const auto e0 = epoch_images(loader, 0), e1 = epoch_images(loader, 1);
  int64_t same = 0;
  for (size_t i = 0; i < e0.size(); ++i) same += e0[i] == e1[i];
  EXPECT_LE(same, 2) << "at most the odd identity draw";
  EXPECT_EQ(epoch_images(loader, 0), e0) << "epoch 0 again: the same draws";
}

TEST(LoaderAugment, NoneGivesThePlainBatchesAndAugmentedPixelsAreNormalised) {
  const data::Dataset ds = synthetic();
  const auto norm = data::Normalization::standardize();
  data::Loader plain(ds, {}, 16, true, 5, norm), none(ds, {}, 16, true, 5, norm);
  none.set_augment(data::augment_preset("none"));
  EXPECT_EQ(none.augment(), nullptr);
  EXPECT_EQ(epoch_images(none, 1), epoch_images(plain, 1));

  // Erasing every image: erased pixels hold the normalised background, others are untouched.
  data::AugmentOptions erase;
  erase.erase_p = 1.0f;
  data::Loader erased(ds, {}, 16, true, 5, norm);
  erased.set_augment(erase);
  ASSERT_NE(erased.augment(), nullptr);
  const auto a = epoch_images(erased, 1), b = epoch_images(plain, 1);
  const float background = norm.apply(0.0f);
  int64_t changed = 0;  // a rectangle may fall on background only, so counted over the epoch
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t p = 0; p < 784; ++p)
      if (a[i][p] != b[i][p]) {
        ++changed;
        EXPECT_EQ(a[i][p], background);
      }
  EXPECT_GT(changed, 100);
}

// A shifted view (test-time augmentation) is the image moved by whole pixels, the border
// it uncovers the normalised background; (0, 0) is the plain batch. Refused with
// augmentation and for shifts that move the image out of view.
TEST(LoaderShift, MovesTheImageByWholePixelsWithABlankBorder) {
  const data::Dataset ds = synthetic();
  const auto norm = data::Normalization::standardize();
  data::Loader plain(ds, {}, 16, false, 0, norm);
  const auto base = epoch_images(plain, 0);
  data::Loader same(ds, {}, 16, false, 0, norm);
  same.set_shift(0, 0);
  EXPECT_EQ(epoch_images(same, 0), base);
  const float background = norm.apply(0.0f);
  for (const auto& [dx, dy] : std::vector<std::pair<int, int>>{{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {3, -2}}) {
    data::Loader moved(ds, {}, 7, false, 0, norm);
    moved.set_shift(dx, dy);
    const auto got = epoch_images(moved, 0);
    ASSERT_EQ(got.size(), base.size());
    for (size_t i = 0; i < got.size(); ++i)
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
          const int sx = x - dx, sy = y - dy;
          const float want = sx >= 0 && sx < 28 && sy >= 0 && sy < 28 ? base[i][static_cast<size_t>(sy * 28 + sx)]
                                                                        : background;
          ASSERT_EQ(got[i][static_cast<size_t>(y * 28 + x)], want) << "shift " << dx << "," << dy << " image " << i;
        }
  }
  data::Loader augmented(ds, {}, 16, false, 0, norm);
  augmented.set_augment(data::augment_preset("standard"));
  EXPECT_THROW(augmented.set_shift(1, 0), Error);
  data::Loader shifted(ds, {}, 16, false, 0, norm);
  shifted.set_shift(0, 1);
  EXPECT_THROW(shifted.set_augment(data::augment_preset("standard")), Error);
  EXPECT_THROW(shifted.set_shift(28, 0), Error);
  EXPECT_THROW(shifted.set_shift(0, -28), Error);
  EXPECT_NO_THROW(shifted.set_shift(27, -27));
}

}  // namespace
}  // namespace mnistcnn
