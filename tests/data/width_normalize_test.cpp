// Width normalisation: a narrow stroke is stretched and a wide shape squeezed to the
// asked width, centred, rows and grey levels kept; a digit already so wide and centred
// is left alone; on MNIST the digits' ink widths gather at the asked width; the loader
// and the predict path serve the same view; the choice parses, prints and survives a
// model file.
#include "mnistcnn/data/width_normalize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/data/normalize.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/nn/sequential.h"
#include "explain/support_models.h"
#include "support/error_of.h"
#include "support/mnist_files.h"

namespace mnistcnn {
namespace {

using data::ink_columns;
using data::normalize_width;

// Rows [top, bottom] of columns [left, right] at `value`, the rest 0.
std::vector<float> block(int64_t top, int64_t bottom, int64_t left, int64_t right, float value) {
  std::vector<float> img(784, 0.0f);
  for (int64_t y = top; y <= bottom; ++y)
    for (int64_t x = left; x <= right; ++x) img[static_cast<size_t>(y * 28 + x)] = value;
  return img;
}

double row_sum(const std::vector<float>& img, int64_t y) {
  double s = 0;
  for (int64_t x = 0; x < 28; ++x) s += img[static_cast<size_t>(y * 28 + x)];
  return s;
}

// The ink's centre along x in pixel-edge coordinates (column i spans [i, i+1)).
double centre_x(const std::vector<float>& img) {
  double m = 0, mx = 0;
  for (int64_t y = 0; y < 28; ++y)
    for (int64_t x = 0; x < 28; ++x) {
      m += img[static_cast<size_t>(y * 28 + x)];
      mx += img[static_cast<size_t>(y * 28 + x)] * (static_cast<double>(x) + 0.5);
    }
  return mx / m;
}

TEST(WidthNormalize, NarrowStrokeIsStretchedAndCentred) {
  const auto bar = block(4, 23, 20, 23, 1.0f);  // 4 px wide, right of centre, like a thin 1
  EXPECT_EQ(ink_columns(bar.data(), 28, 28).first, 20);
  EXPECT_EQ(ink_columns(bar.data(), 28, 28).last, 23);
  std::vector<float> out(784, -1.0f);
  normalize_width(bar.data(), out.data(), 28, 28, 14);
  EXPECT_NEAR(centre_x(out), 14.0, 1e-4);
  const data::InkColumns ink = ink_columns(out.data(), 28, 28);
  EXPECT_EQ(ink.first, 7);  // columns [7, 21): 14 wide about x = 14
  EXPECT_EQ(ink.last, 20);
  for (int64_t y = 0; y < 28; ++y) {
    if (y < 4 || y > 23) {
      EXPECT_EQ(row_sum(out, y), 0.0) << "rows stay where they were: " << y;
    } else {
      EXPECT_NEAR(row_sum(out, y), 14.0, 1e-4) << "4 columns of ink, stretched 3.5 times: " << y;
      for (int64_t x = 7; x <= 20; ++x) EXPECT_NEAR(out[static_cast<size_t>(y * 28 + x)], 1.0f, 1e-6) << y << "," << x;
    }
  }
  for (float v : out) EXPECT_TRUE(v >= 0.0f && v <= 1.0f) << v;
}

TEST(WidthNormalize, WideShapeIsSqueezedWithItsGreyLevelKept) {
  const auto wide = block(10, 17, 2, 25, 0.8f);  // 24 px wide, centred on x = 14
  std::vector<float> out(784);
  normalize_width(wide.data(), out.data(), 28, 28, 12);
  const data::InkColumns ink = ink_columns(out.data(), 28, 28);
  EXPECT_EQ(ink.first, 8);  // each output column averages exactly two source columns
  EXPECT_EQ(ink.last, 19);
  for (int64_t y = 10; y <= 17; ++y)
    for (int64_t x = 8; x <= 19; ++x) EXPECT_NEAR(out[static_cast<size_t>(y * 28 + x)], 0.8f, 1e-6) << y << "," << x;
  EXPECT_NEAR(row_sum(out, 12), 12 * 0.8, 1e-5);
  EXPECT_EQ(row_sum(out, 9), 0.0);
}

TEST(WidthNormalize, CentredDigitOfThatWidthAndBlankImagesAreCopied) {
  const auto fit = block(4, 23, 7, 20, 0.5f);  // already 14 wide, centred
  std::vector<float> out(784, -1.0f);
  normalize_width(fit.data(), out.data(), 28, 28, 14);
  EXPECT_EQ(out, fit);
  const std::vector<float> blank(784, 0.0f);
  normalize_width(blank.data(), out.data(), 28, 28, 14);
  EXPECT_EQ(out, blank);
  EXPECT_GT(ink_columns(blank.data(), 28, 28).first, ink_columns(blank.data(), 28, 28).last);
  // A faint fringe (under a tenth of the peak) does not widen the box.
  auto fringed = fit;
  fringed[5 * 28 + 2] = 0.04f;
  EXPECT_EQ(ink_columns(fringed.data(), 28, 28).first, 7);
  EXPECT_NE(testing::error_of([&] { normalize_width(fit.data(), out.data(), 28, 28, 29); }).find("does not fit"),
            std::string::npos);
}

// On 1,000 MNIST test digits the ink widths, spread from a few pixels (1s) to 20, all come
// out at the asked width, centred; the
// loader's view equals what the predict path makes of the same bytes, also after deskewing.
TEST(WidthNormalize, LoaderAndPredictPathServeTheSameNormalisedDigits) {
  MNISTCNN_REQUIRE_MNIST();
  const int64_t n = 1000;
  data::Dataset ds = data::load_idx_split(testing::mnist_dir(), data::Split::Test);
  ds.images.resize(static_cast<size_t>(n * 784));
  ds.labels.resize(static_cast<size_t>(n));
  data::Normalization norm = data::Normalization::scale();
  norm.width = 14;
  data::Loader plain(ds, {}, n, false, 0, data::Normalization::scale());
  data::Loader narrowed(ds, {}, n, false, 0, norm);
  Tensor x, xw;
  std::vector<int32_t> y, yw;
  plain.batch(0, x, y);
  narrowed.batch(0, xw, yw);
  EXPECT_EQ(y, yw);
  int64_t raw_narrow = 0, raw_wide = 0, off = 0;
  for (int64_t i = 0; i < n; ++i) {
    const data::InkColumns before = ink_columns(x.data() + i * 784, 28, 28);
    const data::InkColumns after = ink_columns(xw.data() + i * 784, 28, 28);
    const int64_t w0 = before.last - before.first + 1;
    raw_narrow += w0 < 10;
    raw_wide += w0 > 17;
    if (after.first != 7 || after.last != 20) ++off;
  }
  EXPECT_GT(raw_narrow, 50) << "MNIST has narrow digits (1s)";
  EXPECT_GT(raw_wide, 50) << "and wide ones";
  EXPECT_EQ(off, 0) << "digits whose ink is not in columns [7, 21) after normalising";

  std::vector<data::DigitImage> digits;
  for (int64_t i = 0; i < 50; ++i) digits.push_back(data::digit_from_mnist_bytes(ds.images.data() + i * 784));
  const Tensor xp = explain::digits_to_input(digits, norm);
  for (int64_t i = 0; i < 50 * 784; ++i) ASSERT_EQ(xp[i], xw[i]) << "image " << i / 784 << " pixel " << i % 784;

  // Both views: deskewed first, then narrowed; the predict path agrees again.
  norm.deskew = true;
  data::Loader both(ds, {}, 50, false, 0, norm);
  Tensor xb;
  both.batch(0, xb, yw);
  const Tensor xbp = explain::digits_to_input(digits, norm);
  for (int64_t i = 0; i < 50 * 784; ++i) ASSERT_EQ(xbp[i], xb[i]) << "image " << i / 784 << " pixel " << i % 784;
  int64_t differs = 0;
  for (int64_t i = 0; i < 50 * 784; ++i) differs += xb[i] != xw[i];
  EXPECT_GT(differs, 0) << "deskewing first changes the view";

  data::Normalization too_wide = data::Normalization::scale();
  too_wide.width = 29;
  EXPECT_NE(testing::error_of([&] { data::Loader bad(ds, {}, 10, false, 0, too_wide); }).find("does not fit 28x28"),
            std::string::npos);
}

// The predictor (server, predict) shows and classifies the width-normalised digit.
TEST(WidthNormalize, PredictorShowsAndClassifiesTheNormalisedDigit) {
  data::Normalization norm = data::Normalization::standardize();
  norm.width = 16;
  const data::DigitImage thin = explain::digit_from_pixels(block(4, 23, 12, 14, 1.0f), false);
  const data::DigitImage seen = explain::model_view(thin, norm);
  const data::InkColumns ink = ink_columns(seen.pixels.data(), 28, 28);
  EXPECT_EQ(ink.first, 6);  // [6, 22): 16 wide about x = 14
  EXPECT_EQ(ink.last, 21);
  testing::expect_predictor_classifies_view(norm, thin, seen);
}

TEST(WidthNormalize, NormalizationParsesPrintsAndIsStoredInTheModel) {
  const auto n = data::Normalization::parse("standardize+deskew+width=14");
  EXPECT_TRUE(n.deskew);
  EXPECT_EQ(n.width, 14);
  EXPECT_EQ(n.mean, 0.1307f);
  EXPECT_EQ(n.name(), "standardize+deskew+width=14");
  EXPECT_EQ(data::Normalization::parse("scale+width=20").name(), "scale+width=20");
  EXPECT_EQ(data::Normalization::parse("0.5,0.25+width=8").width, 8);
  EXPECT_EQ(data::Normalization::parse("scale").width, 0);
  for (const char* bad : {"scale+width=0", "scale+width=", "scale+width=x", "scale+width=14+deskew", "+width=14",
                          "scale+width=99999", "scale+width=-4", "scale+width=14 ", "width=14"})
    EXPECT_NE(testing::error_of([&] { (void)data::Normalization::parse(bad); }).find("is not understood"),
              std::string::npos)
        << bad;

  nn::Sequential net = nn::Sequential::from_spec("flatten dense(10)", Shape{1, 28, 28});
  net.init(nn::Init::Torch, 1);
  const std::string path = (std::filesystem::temp_directory_path() / "mnistcnn_width_test.safetensors").string();
  io::ModelInfo info;
  EXPECT_EQ(io::model_metadata(net, info).at("normalization").find("width"), std::string::npos)
      << "files without width normalisation keep their metadata as before";
  info.normalization = n;
  io::save_model(path, net, info);
  const io::LoadedModel back = io::load_model(path);
  EXPECT_EQ(back.info.normalization.width, 14);
  EXPECT_TRUE(back.info.normalization.deskew);
  EXPECT_EQ(back.info.normalization.name(), n.name());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mnistcnn
