// Digit preprocessing: synthetic digits in every polarity and with transparency give one
// MNIST-form answer with the right size and centre of mass; blanks are detected; real
// MNIST digits come back as themselves, which shows the pipeline is MNIST's own.
#include "mnistcnn/data/digit_image.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "mnistcnn/core/error.h"

namespace mnistcnn::data {
namespace {

struct Segment {
  float x0, y0, x1, y1;
};

// Ink coverage in [0, 1] of a pen of the given width along the segments, anti-aliased
// over one pixel, on a w×h canvas.
std::vector<float> draw(int w, int h, const std::vector<Segment>& segs, float pen) {
  std::vector<float> ink(size_t(w) * h, 0.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float px = x + 0.5f, py = y + 0.5f, best = 1e9f;
      for (const Segment& s : segs) {
        float dx = s.x1 - s.x0, dy = s.y1 - s.y0;
        float t = std::clamp(((px - s.x0) * dx + (py - s.y0) * dy) / (dx * dx + dy * dy), 0.0f, 1.0f);
        best = std::min(best, std::hypot(px - s.x0 - t * dx, py - s.y0 - t * dy));
      }
      ink[size_t(y) * w + x] = std::clamp(pen / 2 + 0.5f - best, 0.0f, 1.0f);
    }
  return ink;
}

// A "7" on a 200×300 canvas.
std::vector<float> seven() { return draw(200, 300, {{40, 60, 160, 60}, {160, 60, 80, 260}}, 22); }

GrayImage opaque(int w, int h, std::vector<float> value) {
  GrayImage g{w, h, std::move(value), {}};
  g.alpha.assign(g.value.size(), 1.0f);
  return g;
}

GrayImage dark_on_light(int w, int h, const std::vector<float>& ink, float paper = 1, float pen = 0) {
  std::vector<float> v(ink.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = paper + (pen - paper) * ink[i];
  return opaque(w, h, v);
}

float max_abs_diff(const DigitImage& a, const DigitImage& b) {
  float m = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) m = std::max(m, std::abs(a.pixels[i] - b.pixels[i]));
  return m;
}

float mean_abs_diff(const DigitImage& a, const DigitImage& b) {
  double s = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) s += std::abs(a.pixels[i] - b.pixels[i]);
  return float(s / a.pixels.size());
}

struct Geometry {
  int width, height;  // of the bounding box of non-zero pixels
  double cx, cy;      // centre of mass, pixel (r, c) at position (r, c)
  float max;
};

Geometry geometry(const DigitImage& d) {
  int x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  double m = 0, mx = 0, my = 0;
  float top = 0;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      float p = d.pixels[y * 28 + x];
      if (p > 0) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      m += p, mx += p * x, my += p * y;
      top = std::max(top, p);
    }
  return {x1 - x0 + 1, y1 - y0 + 1, mx / m, my / m, top};
}

void expect_mnist_form(const DigitImage& d) {
  ASSERT_FALSE(d.blank);
  Geometry g = geometry(d);
  EXPECT_NEAR(std::max(g.width, g.height), 20, 1);
  EXPECT_NEAR(g.cx, 14.0, 0.5);
  EXPECT_NEAR(g.cy, 14.0, 0.5);
  EXPECT_FLOAT_EQ(g.max, 1.0f);
  for (float p : d.pixels) ASSERT_TRUE(p >= 0.0f && p <= 1.0f);
}

TEST(DigitImage, DarkOnLightAndItsInverseAgree) {
  std::vector<float> ink = seven();
  DigitImage dark = to_mnist_digit(dark_on_light(200, 300, ink));
  DigitImage light = to_mnist_digit(dark_on_light(200, 300, ink, 0, 1));
  expect_mnist_form(dark);
  EXPECT_LT(max_abs_diff(dark, light), 1e-5f);
  Geometry g = geometry(dark);
  EXPECT_EQ(g.height, 20) << "a 7 is taller than wide";
  EXPECT_LT(g.width, 20);
}

TEST(DigitImage, GreyPaperAndGreyInkWork) {
  std::vector<float> ink = seven();
  DigitImage ref = to_mnist_digit(dark_on_light(200, 300, ink));
  EXPECT_LT(max_abs_diff(ref, to_mnist_digit(dark_on_light(200, 300, ink, 0.6f, 0.1f))), 1e-4f);
  EXPECT_LT(max_abs_diff(ref, to_mnist_digit(dark_on_light(200, 300, ink, 0.3f, 0.9f))), 1e-4f);
}

TEST(DigitImage, StrokeOnTransparentCanvas) {
  std::vector<float> ink = seven();
  DigitImage ref = to_mnist_digit(dark_on_light(200, 300, ink));
  // Black stroke, transparent black elsewhere: what a browser canvas exports.
  GrayImage black{200, 300, std::vector<float>(ink.size(), 0.0f), ink};
  DigitImage b = to_mnist_digit(black);
  expect_mnist_form(b);
  EXPECT_LT(max_abs_diff(ref, b), 1e-5f);
  // White stroke on transparent white.
  GrayImage white{200, 300, std::vector<float>(ink.size(), 1.0f), ink};
  EXPECT_LT(max_abs_diff(ref, to_mnist_digit(white)), 1e-5f);
}

TEST(DigitImage, NoisyPaperGivesNearlyTheCleanDigit) {
  std::vector<float> ink = seven();
  DigitImage ref = to_mnist_digit(dark_on_light(200, 300, ink));
  GrayImage noisy = dark_on_light(200, 300, ink, 0.85f, 0.15f);
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> noise(-0.06f, 0.06f);
  for (float& v : noisy.value) v = std::clamp(v + noise(gen), 0.0f, 1.0f);
  DigitImage d = to_mnist_digit(noisy);
  expect_mnist_form(d);
  float mad = mean_abs_diff(ref, d);
  std::printf("noisy paper: mean |difference| from the clean digit %.4f\n", mad);
  EXPECT_LT(mad, 0.03f);
}

TEST(DigitImage, SmallAndWideInputs) {
  // A 12×16 "1" is enlarged; a wide "-"-like bar keeps its aspect ratio.
  DigitImage one = to_mnist_digit(dark_on_light(12, 16, draw(12, 16, {{6, 3, 6, 13}}, 2.5f)));
  expect_mnist_form(one);
  DigitImage bar = to_mnist_digit(dark_on_light(300, 100, draw(300, 100, {{50, 50, 250, 50}}, 30)));
  expect_mnist_form(bar);
  Geometry g = geometry(bar);
  EXPECT_EQ(g.width, 20);
  EXPECT_NEAR(g.height, 20.0 * 30 / 230, 1.0);
}

TEST(DigitImage, BlankImagesAreBlank) {
  for (float level : {0.0f, 1.0f, 0.5f}) {
    DigitImage d = to_mnist_digit(opaque(50, 40, std::vector<float>(2000, level)));
    EXPECT_TRUE(d.blank) << level;
    EXPECT_EQ(*std::max_element(d.pixels.begin(), d.pixels.end()), 0.0f);
  }
  // Faint smudges and a single speck are not digits either.
  std::vector<float> faint(2000, 1.0f);
  for (int i = 500; i < 700; ++i) faint[i] = 0.95f;
  EXPECT_TRUE(to_mnist_digit(opaque(50, 40, faint)).blank);
  std::vector<float> speck(200 * 300, 1.0f);
  speck[150 * 200 + 100] = 0.0f;
  EXPECT_TRUE(to_mnist_digit(opaque(200, 300, speck)).blank);
  // A fully transparent canvas.
  GrayImage clear{20, 20, std::vector<float>(400, 0.0f), std::vector<float>(400, 0.0f)};
  EXPECT_TRUE(to_mnist_digit(clear).blank);
}

TEST(DigitImage, InconsistentSizesThrow) {
  EXPECT_THROW(to_mnist_digit(GrayImage{}), Error);
  EXPECT_THROW(to_mnist_digit(GrayImage{3, 3, std::vector<float>(8), {}}), Error);
  EXPECT_THROW(to_mnist_digit(GrayImage{3, 3, std::vector<float>(9), std::vector<float>(4)}), Error);
}

TEST(DigitImage, MnistBytesRoundTrip) {
  std::vector<uint8_t> bytes(784);
  for (int i = 0; i < 784; ++i) bytes[i] = static_cast<uint8_t>(i * 13);
  DigitImage d = digit_from_mnist_bytes(bytes.data());
  EXPECT_FLOAT_EQ(d.pixels[5], 65 / 255.0f);
  EXPECT_FALSE(d.blank);
  EXPECT_EQ(to_bytes(d), bytes);
  std::vector<uint8_t> zeros(784, 0);
  EXPECT_TRUE(digit_from_mnist_bytes(zeros.data()).blank);
}

std::vector<uint8_t> mnist_test_images(int count) {
  const std::string path = MNISTCNN_SOURCE_DIR "/../shared/data/mnist/t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(path)) return {};
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return {};
  std::vector<uint8_t> buf(16 + size_t(count) * 784);
  int got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
  gzclose(f);
  if (got != static_cast<int>(buf.size())) return {};
  return {buf.begin() + 16, buf.end()};
}

// MNIST's digits were made by exactly this pipeline, so running it again must change
// them little: same 20-px box, same centre of mass.
TEST(DigitImage, MnistDigitsComeBackAsThemselves) {
  const int count = 100;
  std::vector<uint8_t> raw = mnist_test_images(count);
  if (raw.empty()) GTEST_SKIP() << "MNIST test images not found";
  int close = 0;
  double total = 0, worst = 0;
  for (int k = 0; k < count; ++k) {
    DigitImage orig = digit_from_mnist_bytes(raw.data() + 784 * k);
    GrayImage g = opaque(28, 28, std::vector<float>(orig.pixels.begin(), orig.pixels.end()));
    float mad = mean_abs_diff(orig, to_mnist_digit(g));
    total += mad, worst = std::max<double>(worst, mad);
    close += mad < 0.08f;
  }
  std::printf("MNIST round trip over %d digits: mean |difference| %.4f, worst %.4f, %d below 0.08\n",
              count, total / count, worst, close);
  EXPECT_GE(close, 95);
  EXPECT_LT(total / count, 0.02);
}

// The shrinking path: each MNIST digit blown up 5× (nearest neighbour) on a larger, inverted
// canvas, as if scanned dark on white, must shrink back to itself.
TEST(DigitImage, EnlargedMnistDigitsShrinkBackToThemselves) {
  const int count = 100, f = 5, side = 28 * f + 60;
  std::vector<uint8_t> raw = mnist_test_images(count);
  if (raw.empty()) GTEST_SKIP() << "MNIST test images not found";
  int close = 0;
  double total = 0;
  for (int k = 0; k < count; ++k) {
    DigitImage orig = digit_from_mnist_bytes(raw.data() + 784 * k);
    std::vector<float> v(size_t(side) * side, 1.0f);
    for (int y = 0; y < 28 * f; ++y)
      for (int x = 0; x < 28 * f; ++x) v[size_t(y + 17) * side + x + 43] = 1 - orig.pixels[(y / f) * 28 + x / f];
    float mad = mean_abs_diff(orig, to_mnist_digit(opaque(side, side, v)));
    total += mad;
    close += mad < 0.08f;
  }
  std::printf("MNIST ×%d shrink round trip over %d digits: mean |difference| %.4f, %d below 0.08\n", f,
              count, total / count, close);
  EXPECT_GE(close, 95);
}

}  // namespace
}  // namespace mnistcnn::data
