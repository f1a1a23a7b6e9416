// Predictor: the same answers from many threads as from one, as from a plain batch
// forward; blank digits; models it must refuse. Attribution: saliency against finite
// differences, Grad-CAM against CAM where the two must agree.
#include "mnistcnn/explain/predictor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/classify.h"
#include "explain/support_models.h"

namespace mnistcnn {
namespace {

using explain::Predictor;

std::vector<data::DigitImage> some_digits(int n) {
  std::vector<data::DigitImage> out;
  for (int i = 0; i < n; ++i) out.push_back(testing::ring_digit(4.0f + 0.1f * i, 12.0f + 0.1f * (i % 30), 14.0f));
  return out;
}

TEST(Predictor, ManyThreadsGiveTheSingleThreadedAnswers) {
  const Predictor p(testing::digit_model(), {.max_concurrent = 3});
  const auto digits = some_digits(40);
  std::vector<explain::Prediction> want;
  for (const auto& d : digits) want.push_back(p.predict(d, true));

  // And they agree with one batch forward of the same network (up to summation order).
  io::LoadedModel ref = testing::digit_model();
  const Tensor probs = explain::class_probabilities(ref.net, explain::digits_to_input(digits, ref.info.normalization));
  for (size_t i = 0; i < digits.size(); ++i)
    for (int c = 0; c < 10; ++c) EXPECT_NEAR(want[i].probabilities[c], probs[static_cast<int64_t>(i) * 10 + c], 1e-5);

  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 3; ++k)
        for (size_t j = 0; j < digits.size(); ++j) {
          const size_t i = (j * 7 + static_cast<size_t>(t)) % digits.size();  // a different order per thread
          const auto got = p.predict(digits[i], true);
          if (got.label != want[i].label || got.probabilities != want[i].probabilities ||
              got.attribution.saliency != want[i].attribution.saliency ||
              got.attribution.gradcam != want[i].attribution.gradcam)
            ++mismatches;
        }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Predictor, BlankDigitsHaveNoLabel) {
  const Predictor p(testing::digit_model());
  data::DigitImage blank;
  blank.blank = true;
  const auto r = p.predict(blank, true);
  EXPECT_TRUE(r.blank);
  EXPECT_EQ(r.label, -1);
  EXPECT_TRUE(r.probabilities.empty());
}

TEST(Predictor, ProbabilitiesSumToOne) {
  const Predictor p(testing::digit_model("conv(4,3) relu maxpool(2) flatten dense(10) softmax"));
  const auto r = p.predict(testing::ring_digit());
  double sum = 0;
  for (float q : r.probabilities) sum += q;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(p.class_names().size(), 10u);
}

TEST(Predictor, RefusesModelsThatDoNotTakeDigits) {
  io::LoadedModel m;
  m.net = nn::Sequential::from_spec("flatten dense(10)", {3, 32, 32});
  m.info.input = Shape{3, 32, 32};
  try {
    Predictor p(std::move(m), {}, "cifar.safetensors");
    FAIL() << "accepted a 3x32x32 model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cifar.safetensors"), std::string::npos) << e.what();
  }
}

// Saliency is |d logit / d pixel| scaled to max 1: compare with central differences.
TEST(Attribution, SaliencyMatchesFiniteDifferences) {
  io::LoadedModel m = testing::digit_model("conv(3,5) tanh avgpool(2) flatten dense(10)", 11);
  const data::DigitImage d = testing::ring_digit();
  const Tensor x = explain::digits_to_input({&d, 1}, m.info.normalization);
  const int target = 4;
  const explain::Attribution a = explain::attribute(m.net, x, target);
  std::vector<float> fd(784);
  Tensor xp = x;
  const float eps = 1e-2f;
  for (int i = 0; i < 784; ++i) {
    const float keep = xp[i];
    xp[i] = keep + eps;
    const double up = m.net.forward(xp, nn::Mode::Eval, m.net.logits_end())[target];
    xp[i] = keep - eps;
    const double down = m.net.forward(xp, nn::Mode::Eval, m.net.logits_end())[target];
    xp[i] = keep;
    fd[static_cast<size_t>(i)] = static_cast<float>(std::abs(up - down) / (2 * eps));
  }
  explain::normalize_max(fd);
  ASSERT_EQ(a.saliency.size(), 784u);
  for (size_t i = 0; i < 784; ++i) EXPECT_NEAR(a.saliency[i], fd[i], 2e-3) << "pixel " << i;
}

// With global average pooling after the last conv, Grad-CAM equals CAM (Zhou et al.
// 2016): the class's dense weights times the feature maps.
TEST(Attribution, GradCamEqualsCamAfterGlobalAveragePooling) {
  io::LoadedModel m = testing::digit_model("conv(5,3) relu avgpool(26) flatten dense(10)", 21);
  const data::DigitImage d = testing::ring_digit(6.0f);
  const Tensor x = explain::digits_to_input({&d, 1}, m.info.normalization);
  const int target = 2;
  const explain::Attribution a = explain::attribute(m.net, x, target);
  EXPECT_EQ(a.gradcam_layer, 1);  // the relu after the conv
  const Tensor& A = m.net.output(1);  // 1×5×26×26
  const Tensor& w = m.net.params()[2]->value;  // dense weight 10×5
  std::vector<float> cam(26 * 26, 0.0f);
  for (int k = 0; k < 5; ++k)
    for (int p = 0; p < 26 * 26; ++p) cam[static_cast<size_t>(p)] += w[target * 5 + k] * A[k * 676 + p];
  for (float& v : cam) v = std::max(v, 0.0f);
  std::vector<float> want = explain::upsample(cam.data(), 26, 26, 28, 28);
  explain::normalize_max(want);
  ASSERT_EQ(a.gradcam.size(), 784u);
  for (size_t i = 0; i < 784; ++i) EXPECT_NEAR(a.gradcam[i], want[i], 1e-4) << "pixel " << i;
}

TEST(Attribution, NoConvMeansNoGradCam) {
  io::LoadedModel m = testing::digit_model("flatten dense(16) relu dense(10)");
  const data::DigitImage d = testing::ring_digit();
  const auto a = explain::attribute(m.net, explain::digits_to_input({&d, 1}, m.info.normalization), 0);
  EXPECT_EQ(a.gradcam_layer, -1);
  EXPECT_TRUE(a.gradcam.empty());
  EXPECT_EQ(a.saliency.size(), 784u);
}

TEST(Attribution, UpsampleKeepsConstantsAndInterpolates) {
  const float c[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  for (float v : explain::upsample(c, 2, 2, 5, 7)) EXPECT_FLOAT_EQ(v, 0.5f);
  const float ramp[2] = {0.0f, 1.0f};  // 1×2 → 1×4: centres at 0.25 steps of the source
  const auto r = explain::upsample(ramp, 1, 2, 1, 4);
  EXPECT_FLOAT_EQ(r[0], 0.0f);
  EXPECT_FLOAT_EQ(r[1], 0.25f);
  EXPECT_FLOAT_EQ(r[2], 0.75f);
  EXPECT_FLOAT_EQ(r[3], 1.0f);
}

TEST(Classify, PixelsAreCheckedAndPassedThroughOrPreprocessed) {
  std::vector<float> v(784, 0.0f);
  EXPECT_TRUE(explain::digit_from_pixels(v, false).blank);
  const data::DigitImage ring = testing::ring_digit(3.0f, 8.0f, 8.0f);  // small, off-centre
  v.assign(ring.pixels.begin(), ring.pixels.end());
  const auto raw = explain::digit_from_pixels(v, false);
  EXPECT_EQ(std::vector<float>(raw.pixels.begin(), raw.pixels.end()), v);
  const auto fitted = explain::digit_from_pixels(v, true);  // enlarged to 20 px and centred
  double mass = 0, mx = 0;
  for (int i = 0; i < 784; ++i) mass += fitted.pixels[i], mx += fitted.pixels[i] * (i % 28);
  EXPECT_NEAR(mx / mass, 14.0, 0.6);
  v[100] = std::nanf("");
  EXPECT_THROW(explain::digit_from_pixels(v, false), Error);
  v[100] = 1.5f;
  EXPECT_THROW(explain::digit_from_pixels(v, false), Error);
  EXPECT_THROW(explain::digit_from_pixels(std::vector<float>(783, 0.0f), false), Error);
}

}  // namespace
}  // namespace mnistcnn
