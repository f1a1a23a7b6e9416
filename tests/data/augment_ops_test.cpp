// Augmentation geometry on hand cases: a shifted pixel lands where it should, rotation
// by 0 is the identity, rotation/scale/shear move a pixel as documented, morphology of a
// dot, the elastic field's scale and smoothness, and rectangle fills.
#include "mnistcnn/data/augment_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mnistcnn {
namespace {

using data::make_affine;
using data::warp_bilinear;

std::vector<float> dot(int64_t H, int64_t W, int64_t y, int64_t x) {
  std::vector<float> img(static_cast<size_t>(H * W), 0.0f);
  img[static_cast<size_t>(y * W + x)] = 1.0f;
  return img;
}

// Where a warped dot ends up: the pixel holding (nearly) all of it.
std::pair<int64_t, int64_t> peak(const std::vector<float>& img, int64_t W) {
  size_t best = 0;
  for (size_t i = 1; i < img.size(); ++i)
    if (img[i] > img[best]) best = i;
  return {static_cast<int64_t>(best) / W, static_cast<int64_t>(best) % W};
}

TEST(AugmentOps, TranslationByOnePixelMovesAPixel) {
  const auto src = dot(28, 28, 10, 10);
  std::vector<float> dst(src.size());
  warp_bilinear(src.data(), dst.data(), 28, 28, make_affine(28, 28, 0, 1, 0, 1, 0), nullptr, nullptr);
  EXPECT_EQ(dst, dot(28, 28, 10, 11)) << "tx = +1 moves right";
  warp_bilinear(src.data(), dst.data(), 28, 28, make_affine(28, 28, 0, 1, 0, 0, -2), nullptr, nullptr);
  EXPECT_EQ(dst, dot(28, 28, 8, 10)) << "ty = −2 moves up";
  warp_bilinear(src.data(), dst.data(), 28, 28, make_affine(28, 28, 0, 1, 0, 20, 0), nullptr, nullptr);
  EXPECT_EQ(dst, std::vector<float>(src.size(), 0.0f)) << "shifted out of the image: zero fill";
}

TEST(AugmentOps, RotationByZeroIsTheIdentity) {
  std::vector<float> src(28 * 28), dst(src.size());
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  warp_bilinear(src.data(), dst.data(), 28, 28, make_affine(28, 28, 0, 1, 0, 0, 0), nullptr, nullptr);
  EXPECT_EQ(dst, src);
}

TEST(AugmentOps, RotationScaleAndShearMoveAPixelAsDocumented) {
  std::vector<float> dst(25);
  // 5×5, centre (2, 2). 90° counter-clockwise: right of the centre goes to above it.
  const auto right = dot(5, 5, 2, 4);
  warp_bilinear(right.data(), dst.data(), 5, 5, make_affine(5, 5, 90, 1, 0, 0, 0), nullptr, nullptr);
  EXPECT_EQ(peak(dst, 5), std::make_pair(int64_t{0}, int64_t{2}));
  EXPECT_NEAR(dst[2], 1.0f, 1e-5f);
  // Scale 2 about the centre: one pixel right of it goes two pixels right.
  const auto near = dot(5, 5, 2, 3);
  warp_bilinear(near.data(), dst.data(), 5, 5, make_affine(5, 5, 0, 2, 0, 0, 0), nullptr, nullptr);
  EXPECT_EQ(peak(dst, 5), std::make_pair(int64_t{2}, int64_t{4}));
  // x-shear by 45°: one row below the centre moves one column right.
  const auto below = dot(5, 5, 3, 2);
  warp_bilinear(below.data(), dst.data(), 5, 5, make_affine(5, 5, 0, 1, 45, 0, 0), nullptr, nullptr);
  EXPECT_EQ(peak(dst, 5), std::make_pair(int64_t{3}, int64_t{3}));
  EXPECT_NEAR(dst[3 * 5 + 3], 1.0f, 1e-5f);
}

TEST(AugmentOps, HalfPixelShiftThroughTheDisplacementFieldSplitsADot) {
  const auto src = dot(4, 4, 1, 1);
  std::vector<float> dx(16, 0.5f), dy(16, 0.0f), dst(16);
  // Output (x, y) reads the source at x + 0.5: pixels 0 and 1 of row 1 each see half.
  warp_bilinear(src.data(), dst.data(), 4, 4, make_affine(4, 4, 0, 1, 0, 0, 0), dx.data(), dy.data());
  EXPECT_FLOAT_EQ(dst[4 + 0], 0.5f);
  EXPECT_FLOAT_EQ(dst[4 + 1], 0.5f);
  EXPECT_FLOAT_EQ(dst[4 + 2], 0.0f);
}

TEST(AugmentOps, ErodeAndDilateOfASingleDot) {
  const auto src = dot(7, 7, 3, 3);
  std::vector<float> dil(49), ero(49), back(49);
  data::dilate3x3(src.data(), dil.data(), 7, 7);
  for (int64_t y = 0; y < 7; ++y)
    for (int64_t x = 0; x < 7; ++x)
      EXPECT_EQ(dil[static_cast<size_t>(y * 7 + x)], std::abs(y - 3) + std::abs(x - 3) <= 1 ? 1.0f : 0.0f)
          << "a dot dilates to a plus, at " << y << "," << x;
  data::erode3x3(src.data(), ero.data(), 7, 7);
  EXPECT_EQ(ero, std::vector<float>(49, 0.0f)) << "a dot thinner than the element vanishes";
  data::erode3x3(dil.data(), back.data(), 7, 7);
  EXPECT_EQ(back, src) << "erosion undoes the dilation of a dot";
  // The border counts as background: a full image erodes to a frame of zeros.
  std::vector<float> full(49, 1.0f);
  data::erode3x3(full.data(), ero.data(), 7, 7);
  EXPECT_EQ(ero[0], 0.0f);
  EXPECT_EQ(ero[3 * 7 + 3], 1.0f);
}

TEST(AugmentOps, ElasticFieldScalesWithAlphaAndIsSmooth) {
  std::vector<float> dx1(784), dy1(784), dx2(784), dy2(784), tmp(784);
  Rng a(5, 1), b(5, 1);
  data::elastic_field(a, 28, 28, 10.0f, 4.0f, dx1.data(), dy1.data(), tmp.data());
  data::elastic_field(b, 28, 28, 20.0f, 4.0f, dx2.data(), dy2.data(), tmp.data());
  double energy = 0.0, step = 0.0;
  for (size_t i = 0; i < 784; ++i) {
    EXPECT_NEAR(dx2[i], 2.0f * dx1[i], 1e-5f);
    EXPECT_NEAR(dy2[i], 2.0f * dy1[i], 1e-5f);
    energy += dx1[i] * dx1[i];
    if (i % 28 != 27) step += (dx1[i + 1] - dx1[i]) * (dx1[i + 1] - dx1[i]);
  }
  EXPECT_GT(energy, 0.0);
  // Smoothed by sigma 4: neighbours differ far less than the field varies (white noise
  // would give a ratio near 2).
  EXPECT_LT(step / energy, 0.1);
}

TEST(AugmentOps, FillRectTouchesOnlyTheRectangle) {
  std::vector<float> img(6 * 5, 1.0f);
  data::fill_rect(img.data(), 5, 1, 2, 3, 2, 0.0f, nullptr);
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < 5; ++x)
      EXPECT_EQ(img[static_cast<size_t>(y * 5 + x)], (y >= 1 && y < 4 && x >= 2 && x < 4) ? 0.0f : 1.0f);
  Rng rng(1, 2);
  data::fill_rect(img.data(), 5, 0, 0, 2, 5, 0.0f, &rng);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(img[static_cast<size_t>(i)] >= 0.0f && img[static_cast<size_t>(i)] < 1.0f);
}

}  // namespace
}  // namespace mnistcnn
