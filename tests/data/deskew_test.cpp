// Deskewing: a slanted stroke comes out upright with its ink kept; upright and blank
// images are left alone; on MNIST it removes nearly all of the digits' slant; the loader
// and the predict path (digits_to_input) serve the same deskewed input, which the predictor
// shows; the choice parses, prints and survives a model file.
#include "mnistcnn/data/deskew.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/nn/sequential.h"
#include "explain/support_models.h"
#include "support/error_of.h"
#include "support/mnist_files.h"

namespace mnistcnn {
namespace {

using data::deskew;
using data::skew;

// A 2-px-wide stroke from (top, x_top) to (bottom, x_bottom), one row at a time.
std::vector<float> stroke(int64_t top, float x_top, int64_t bottom, float x_bottom) {
  std::vector<float> img(784, 0.0f);
  for (int64_t y = top; y <= bottom; ++y) {
    const float x = x_top + (x_bottom - x_top) * static_cast<float>(y - top) / static_cast<float>(bottom - top);
    const auto c = static_cast<int64_t>(std::lround(x));
    img[static_cast<size_t>(y * 28 + c)] = 1.0f;
    img[static_cast<size_t>(y * 28 + c + 1)] = 1.0f;
  }
  return img;
}

double mass(const std::vector<float>& img) { return std::accumulate(img.begin(), img.end(), 0.0); }

TEST(Deskew, SlantedStrokeComesOutUpright) {
  const auto slanted = stroke(4, 18.0f, 23, 9.0f);  // leans right, as many 1s and 7s do
  const float before = skew(slanted.data(), 28, 28);
  // 9 columns left over 19 rows down, give or take the stroke's rounding to whole pixels.
  EXPECT_NEAR(before, -9.0f / 19.0f, 0.03f);
  std::vector<float> upright(784);
  deskew(slanted.data(), upright.data(), 28, 28);
  EXPECT_NEAR(skew(upright.data(), 28, 28), 0.0f, 0.02f);
  EXPECT_NEAR(mass(upright), mass(slanted), 0.02 * mass(slanted)) << "the ink is moved, not lost";
  // Each row's ink now sits at the stroke's middle column (13.5 + 0.5 for the 2-px width).
  for (int64_t y = 4; y <= 23; ++y) {
    double m = 0, mx = 0;
    for (int64_t x = 0; x < 28; ++x) {
      m += upright[static_cast<size_t>(y * 28 + x)];
      mx += upright[static_cast<size_t>(y * 28 + x)] * static_cast<double>(x);
    }
    ASSERT_GT(m, 0.0) << "row " << y;
    EXPECT_NEAR(mx / m, 14.0, 0.6) << "row " << y;
  }
  // The other slant, the other sign.
  const auto left = stroke(4, 9.0f, 23, 18.0f);
  EXPECT_NEAR(skew(left.data(), 28, 28), 9.0f / 19.0f, 0.03f);
}

TEST(Deskew, UprightBlankAndOneRowImagesAreCopied) {
  const auto upright = stroke(4, 13.0f, 23, 13.0f);
  std::vector<float> out(784, -1.0f);
  deskew(upright.data(), out.data(), 28, 28);
  EXPECT_EQ(out, upright);
  const std::vector<float> blank(784, 0.0f);
  deskew(blank.data(), out.data(), 28, 28);
  EXPECT_EQ(out, blank);
  EXPECT_EQ(skew(blank.data(), 28, 28), 0.0f);
  std::vector<float> row(784, 0.0f);
  for (int64_t x = 5; x < 20; ++x) row[static_cast<size_t>(14 * 28 + x)] = 1.0f;
  deskew(row.data(), out.data(), 28, 28);
  EXPECT_EQ(out, row) << "a horizontal bar has no slant to remove";
}

data::Dataset first_images(int64_t n) {
  data::Dataset ds = data::load_idx_split(testing::mnist_dir(), data::Split::Test);
  ds.images.resize(static_cast<size_t>(n * 784));
  ds.labels.resize(static_cast<size_t>(n));
  return ds;
}

// On real digits: the mean |skew| of 1,000 test images drops to a small fraction, and the
// loader's deskewed batch equals what the predict path makes of the same bytes.
TEST(Deskew, LoaderAndPredictPathServeTheSameUprightDigits) {
  MNISTCNN_REQUIRE_MNIST();
  const int64_t n = 1000;
  const data::Dataset ds = first_images(n);
  data::Normalization norm = data::Normalization::standardize();
  norm.deskew = true;
  data::Loader plain(ds, {}, n, false, 0, data::Normalization::scale());
  data::Loader upright(ds, {}, n, false, 0, norm);
  Tensor x, xu;
  std::vector<int32_t> y, yu;
  plain.batch(0, x, y);
  upright.batch(0, xu, yu);
  EXPECT_EQ(y, yu);
  double before = 0, after = 0;
  std::vector<float> unit(784);
  for (int64_t i = 0; i < n; ++i) {
    before += std::fabs(skew(x.data() + i * 784, 28, 28));
    for (int64_t p = 0; p < 784; ++p) unit[static_cast<size_t>(p)] = xu[i * 784 + p] * 0.3081f + 0.1307f;
    after += std::fabs(skew(unit.data(), 28, 28));
  }
  EXPECT_GT(before / n, 0.1) << "MNIST's digits do slant";
  EXPECT_LT(after, 0.1 * before) << "mean |skew| " << before / n << " -> " << after / n;
  std::printf("mean |skew| of %lld test images: %.4f, deskewed %.4f\n", static_cast<long long>(n), before / n,
              after / n);

  std::vector<data::DigitImage> digits;
  for (int64_t i = 0; i < 50; ++i) digits.push_back(data::digit_from_mnist_bytes(ds.images.data() + i * 784));
  const Tensor xp = explain::digits_to_input(digits, norm);
  for (int64_t i = 0; i < 50 * 784; ++i) ASSERT_EQ(xp[i], xu[i]) << "image " << i / 784 << " pixel " << i % 784;

  // A validation-style loader over a few indices deskews only those, in its own order.
  data::Loader some(ds, {7, 3, 7}, 3, false, 0, norm);
  Tensor xs;
  some.batch(0, xs, yu);
  for (int64_t p = 0; p < 784; ++p) {
    ASSERT_EQ(xs[p], xu[7 * 784 + p]);
    ASSERT_EQ(xs[784 + p], xu[3 * 784 + p]);
    ASSERT_EQ(xs[2 * 784 + p], xu[7 * 784 + p]);
  }
}

// The predictor (server, predict) gives the probabilities of the deskewed input and
// returns that input, so that saliency drawn over it lines up.
TEST(Deskew, PredictorShowsAndClassifiesTheDeskewedDigit) {
  data::Normalization norm = data::Normalization::standardize();
  norm.deskew = true;
  const auto pixels = stroke(4, 18.0f, 23, 9.0f);
  const data::DigitImage slanted = explain::digit_from_pixels(pixels, false);
  const data::DigitImage seen = explain::model_view(slanted, norm);
  EXPECT_NEAR(skew(seen.pixels.data(), 28, 28), 0.0f, 0.03f);
  EXPECT_EQ(explain::model_view(slanted, data::Normalization::standardize()).pixels, slanted.pixels);
  testing::expect_predictor_classifies_view(norm, slanted, seen);
}

TEST(Deskew, NormalizationParsesPrintsAndIsStoredInTheModel) {
  const auto n = data::Normalization::parse("standardize+deskew");
  EXPECT_TRUE(n.deskew);
  EXPECT_EQ(n.mean, 0.1307f);
  EXPECT_EQ(n.name(), "standardize+deskew");
  EXPECT_EQ(data::Normalization::parse("0.5,0.25+deskew").name(), "0.5,0.25+deskew");
  EXPECT_FALSE(data::Normalization::parse("scale").deskew);
  EXPECT_EQ(data::Normalization::parse("scale").name(), "scale");
  for (const char* bad : {"+deskew", "scale+deskewed", "deskew", "scale+deskew+deskew"})
    EXPECT_NE(testing::error_of([&] { (void)data::Normalization::parse(bad); }).find("is not understood"),
              std::string::npos)
        << bad;

  nn::Sequential net = nn::Sequential::from_spec("flatten dense(10)", Shape{1, 28, 28});
  net.init(nn::Init::Torch, 1);
  const std::string path = (std::filesystem::temp_directory_path() / "mnistcnn_deskew_test.safetensors").string();
  io::ModelInfo info;
  io::save_model(path, net, info);
  EXPECT_EQ(io::model_metadata(net, info).at("normalization").find("deskew"), std::string::npos)
      << "files without deskewing keep their metadata as before";
  EXPECT_FALSE(io::load_model(path).info.normalization.deskew);
  info.normalization = n;
  io::save_model(path, net, info);
  EXPECT_TRUE(io::load_model(path).info.normalization.deskew);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mnistcnn
