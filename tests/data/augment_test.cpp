// Augmenter and its options: presets and the text form round-trip, bad settings are
// named, outputs stay in range, small affines keep the ink, erasing touches one
// rectangle, and the draws depend only on (seed, epoch, index).
#include "mnistcnn/data/augment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "mnistcnn/core/error.h"

namespace mnistcnn {
namespace {

using data::AugmentOptions;

std::string error_of(const std::string& text) {
  try {
    data::parse_augment(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A ring of ink, like a zero: 28×28 bytes.
std::vector<uint8_t> ring() {
  std::vector<uint8_t> img(784, 0);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const double r = std::hypot(x - 13.5, (y - 13.5) * 0.8);
      if (r > 6 && r < 9) img[static_cast<size_t>(y * 28 + x)] = 255;
    }
  return img;
}

double ink(const std::vector<float>& img) { return std::accumulate(img.begin(), img.end(), 0.0); }

TEST(AugmentOptions, PresetsAndOverrides) {
  EXPECT_FALSE(data::parse_augment("none").any());
  const AugmentOptions s = data::parse_augment("standard");
  EXPECT_EQ(s.rotate, 10.0f);
  EXPECT_EQ(s.scale_min, 0.9f);
  EXPECT_EQ(s.translate, 2.0f);
  EXPECT_EQ(s.elastic_p, 0.0f);
  const AugmentOptions o = data::parse_augment(" strong , rotate=15, scale=0.8:1.2 ,erase_fill=random,elastic=0.25");
  EXPECT_EQ(o.rotate, 15.0f);
  EXPECT_EQ(o.scale_min, 0.8f);
  EXPECT_EQ(o.scale_max, 1.2f);
  EXPECT_TRUE(o.erase_random);
  EXPECT_EQ(o.elastic_p, 0.25f);
  EXPECT_EQ(o.thickness_p, 0.3f) << "the rest of the preset stays";
}

TEST(AugmentOptions, TextFormRoundTrips) {
  for (const auto& name : data::augment_preset_names()) {
    EXPECT_EQ(data::augment_to_string(data::augment_preset(name)), name);
    EXPECT_EQ(data::parse_augment(name), data::augment_preset(name));
  }
  const AugmentOptions o = data::parse_augment("light,shear=3.5,erase=0.1,erase_area=0.05:0.1,thickness=0.2");
  const std::string text = data::augment_to_string(o);
  EXPECT_EQ(text, "none,rotate=5,translate=1,shear=3.5,thickness=0.2,erase=0.1,scale=0.95:1.05,erase_area=0.05:0.1");
  EXPECT_EQ(data::parse_augment(text), o);
}

TEST(AugmentOptions, BadSettingsAreNamed) {
  EXPECT_NE(error_of("medium").find("unknown augmentation preset 'medium'"), std::string::npos);
  EXPECT_NE(error_of("standard,spin=3").find("unknown augmentation setting 'spin'"), std::string::npos);
  EXPECT_NE(error_of("standard,spin=3").find("rotate"), std::string::npos) << "the hint lists the settings";
  EXPECT_NE(error_of("standard,rotate=500").find("rotate=500: expected a number in [0, 180]"), std::string::npos);
  EXPECT_NE(error_of("standard,rotate=ten").find("rotate=ten"), std::string::npos);
  EXPECT_NE(error_of("standard,rotate=nan").find("rotate=nan"), std::string::npos);
  EXPECT_NE(error_of("standard,scale=1.2:0.8").find("LO is above HI"), std::string::npos);
  EXPECT_NE(error_of("standard,scale=0:1").find("scale=0:1"), std::string::npos);
  EXPECT_NE(error_of("standard,elastic=1.5").find("probability"), std::string::npos);
  EXPECT_NE(error_of("standard,erase_fill=grey").find("zero or random"), std::string::npos);
  EXPECT_NE(error_of("standard,rotate").find("not key=value"), std::string::npos);
  EXPECT_NE(error_of("standard,").find("not key=value"), std::string::npos);
  EXPECT_NE(error_of("").find("preset ''"), std::string::npos);
  AugmentOptions bad;
  bad.elastic_sigma = 0.0f;
  EXPECT_THROW(data::Augmenter(bad, 1), Error);
  bad = {};
  bad.rotate = std::nanf("");
  EXPECT_THROW(data::Augmenter(bad, 1), Error);
}

TEST(Augmenter, NoneIsTheIdentityAndBytesReadAsUnit) {
  const auto src = ring();
  data::Augmenter aug(data::augment_preset("none"), 3);
  data::AugmentScratch s;
  std::vector<float> dst(784);
  aug.apply(src.data(), dst.data(), 28, 28, 0, 0, s);
  for (size_t i = 0; i < 784; ++i) ASSERT_EQ(dst[i], static_cast<float>(src[i]) / 255.0f);
}

TEST(Augmenter, OutputStaysInRangeAndChanges) {
  AugmentOptions o = data::augment_preset("strong");
  o.elastic_p = o.thickness_p = o.erase_p = 1.0f;
  o.erase_random = true;
  data::Augmenter aug(o, 4);
  data::AugmentScratch s;
  const auto src = ring();
  std::vector<float> dst(784);
  for (int64_t index = 0; index < 50; ++index) {
    aug.apply(src.data(), dst.data(), 28, 28, 1, index, s);
    int64_t changed = 0;
    for (size_t i = 0; i < 784; ++i) {
      ASSERT_TRUE(dst[i] >= 0.0f && dst[i] <= 1.0f) << dst[i];
      changed += dst[i] != static_cast<float>(src[i]) / 255.0f;
    }
    EXPECT_GT(changed, 20) << index;
  }
}

TEST(Augmenter, SmallAffinesKeepTheInk) {
  const auto src = ring();
  std::vector<float> unit(784), dst(784);
  for (size_t i = 0; i < 784; ++i) unit[i] = src[i] / 255.0f;
  const double before = ink(unit);
  data::Augmenter aug(data::augment_preset("light"), 5);  // zoom 0.95–1.05: ink ×0.90–1.10
  data::AugmentScratch s;
  for (int64_t index = 0; index < 40; ++index) {
    aug.apply(unit.data(), dst.data(), 28, 28, 0, index, s);
    EXPECT_NEAR(ink(dst) / before, 1.0, 0.12) << index;
  }
}

TEST(Augmenter, ErasingChangesOneRectangleOfTheRequestedSize) {
  AugmentOptions o;
  o.erase_p = 1.0f;
  data::Augmenter aug(o, 6);
  data::AugmentScratch s;
  std::vector<float> full(784, 1.0f), dst(784);
  for (int64_t index = 0; index < 30; ++index) {
    aug.apply(full.data(), dst.data(), 28, 28, 0, index, s);
    int64_t top = 28, bottom = -1, left = 28, right = -1, zeros = 0;
    for (int64_t y = 0; y < 28; ++y)
      for (int64_t x = 0; x < 28; ++x)
        if (dst[static_cast<size_t>(y * 28 + x)] == 0.0f) {
          ++zeros;
          top = std::min(top, y), bottom = std::max(bottom, y), left = std::min(left, x), right = std::max(right, x);
        } else {
          ASSERT_EQ(dst[static_cast<size_t>(y * 28 + x)], 1.0f);
        }
    ASSERT_GT(zeros, 0) << index;
    EXPECT_EQ(zeros, (bottom - top + 1) * (right - left + 1)) << "a filled rectangle, index " << index;
    // Area 2–10 % of 784 give or take the rounding of the sides.
    EXPECT_GE(zeros, 8) << index;
    EXPECT_LE(zeros, 100) << index;
  }
}

TEST(Augmenter, DrawsDependOnlyOnSeedEpochAndIndex) {
  const auto src = ring();
  data::Augmenter a(data::augment_preset("strong"), 7), b(data::augment_preset("strong"), 7),
      other_seed(data::augment_preset("strong"), 8);
  data::AugmentScratch sa, sb;
  std::vector<float> x(784), y(784), z(784);
  // Scratch reuse and call order do not matter.
  a.apply(src.data(), z.data(), 28, 28, 0, 99, sa);
  a.apply(src.data(), x.data(), 28, 28, 2, 17, sa);
  b.apply(src.data(), y.data(), 28, 28, 2, 17, sb);
  EXPECT_EQ(x, y);
  b.apply(src.data(), y.data(), 28, 28, 3, 17, sb);
  EXPECT_NE(x, y) << "another epoch";
  b.apply(src.data(), y.data(), 28, 28, 2, 18, sb);
  EXPECT_NE(x, y) << "another image";
  other_seed.apply(src.data(), y.data(), 28, 28, 2, 17, sb);
  EXPECT_NE(x, y) << "another seed";
}

}  // namespace
}  // namespace mnistcnn
