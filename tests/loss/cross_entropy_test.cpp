// Cross-entropy: golden values at known logits, stability at huge logits, the gradient
// against finite differences, and the integer-label and one-hot forms against each other.
#include "mnistcnn/loss/cross_entropy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "mnistcnn/core/error.h"
#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

// Central differences of a scalar loss of the logits against the analytic gradient d.
template <class LossFn>
void expect_gradient(Tensor& logits, const Tensor& d, LossFn loss_of) {
  for (int64_t i = 0; i < logits.numel(); ++i) {
    const float keep = logits[i];
    logits[i] = keep + 1e-2f;
    const double up = loss_of(logits);
    logits[i] = keep - 1e-2f;
    const double down = loss_of(logits);
    logits[i] = keep;
    EXPECT_NEAR(d[i], (up - down) / 2e-2, 1e-4) << "element " << i;
  }
}

TEST(CrossEntropy, GoldenValues) {
  Tensor logits({2, 3});
  const float v[6] = {0, 0, 0, 1, 2, 3};
  for (int i = 0; i < 6; ++i) logits[i] = v[i];
  const std::vector<int32_t> labels = {1, 2};
  Tensor d;
  const double loss = loss::cross_entropy(logits, labels, &d);
  const double l0 = std::log(3.0);
  const double l1 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  EXPECT_NEAR(loss, (l0 + l1) / 2, 1e-6);
  EXPECT_NEAR(d[0], (1.0 / 3) / 2, 1e-6);
  EXPECT_NEAR(d[1], (1.0 / 3 - 1) / 2, 1e-6);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(d[5], (std::exp(3.0) / z - 1) / 2, 1e-6);
}

TEST(CrossEntropy, StableForHugeLogits) {
  Tensor logits({1, 3});
  logits[0] = 1000.0f;
  logits[1] = -1000.0f;
  logits[2] = 999.0f;
  const std::vector<int32_t> labels = {2};
  Tensor d;
  const double loss = loss::cross_entropy(logits, labels, &d);
  EXPECT_NEAR(loss, std::log1p(std::exp(1.0)), 1e-5);
  for (float g : d.span()) EXPECT_TRUE(std::isfinite(g));
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  Tensor logits = testing::random_tensor({4, 10}, 3);
  for (auto& v : logits.span()) v *= 3.0f;
  const std::vector<int32_t> labels = {3, 0, 9, 3};
  Tensor d;
  loss::cross_entropy(logits, labels, &d);
  expect_gradient(logits, d, [&](const Tensor& z) { return loss::cross_entropy(z, labels, nullptr); });
}

TEST(CrossEntropy, OneHotFormAgreesWithLabels) {
  const Tensor logits = testing::random_tensor({5, 10}, 4);
  const std::vector<int32_t> labels = {1, 7, 7, 0, 9};
  Tensor onehot({5, 10});
  for (int n = 0; n < 5; ++n) onehot[n * 10 + labels[static_cast<size_t>(n)]] = 1.0f;
  Tensor d1, d2;
  const double a = loss::cross_entropy(logits, labels, &d1);
  const double b = loss::categorical_cross_entropy(logits, onehot, &d2);
  EXPECT_NEAR(a, b, 1e-6);
  EXPECT_LE(testing::worst_mismatch(d1.data(), d2.data(), d1.numel(), 1e-6, 1e-7), 1.0);
}

TEST(CrossEntropy, SoftTargetsGradient) {
  Tensor logits = testing::random_tensor({3, 4}, 5);
  Tensor targets({3, 4});
  for (int n = 0; n < 3; ++n)
    for (int c = 0; c < 4; ++c) targets[n * 4 + c] = (n + c) % 4 == 0 ? 0.5f : 0.1f;  // soft, then normalised
  for (int n = 0; n < 3; ++n) {
    float s = 0;
    for (int c = 0; c < 4; ++c) s += targets[n * 4 + c];
    for (int c = 0; c < 4; ++c) targets[n * 4 + c] /= s;
  }
  Tensor d;
  loss::categorical_cross_entropy(logits, targets, &d);
  expect_gradient(logits, d, [&](const Tensor& z) { return loss::categorical_cross_entropy(z, targets, nullptr); });
}

TEST(CrossEntropy, RejectsLabelsOutOfRange) {
  const Tensor logits({2, 10});
  const std::vector<int32_t> labels = {1, 10};
  EXPECT_THROW(loss::cross_entropy(logits, labels, nullptr), Error);
}

// Label smoothing ε: target (1 − ε)·one_hot + ε/C (PyTorch's label_smoothing), worked by hand.
TEST(CrossEntropy, LabelSmoothingGoldenValues) {
  Tensor logits({2, 3});
  const float v[6] = {0, 0, 0, 1, 2, 3};
  for (int i = 0; i < 6; ++i) logits[i] = v[i];
  const std::vector<int32_t> labels = {1, 2};
  Tensor d;
  const double loss = loss::cross_entropy(logits, labels, &d, 0.1);
  const double lse1 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  // Row 0: every class has log-probability −log 3, so any target gives log 3.
  const double l0 = std::log(3.0);
  const double l1 = 0.9 * (lse1 - 3.0) + 0.1 / 3.0 * ((lse1 - 1.0) + (lse1 - 2.0) + (lse1 - 3.0));
  EXPECT_NEAR(loss, (l0 + l1) / 2, 1e-6);
  EXPECT_NEAR(d[1], (1.0 / 3 - (0.9 + 0.1 / 3)) / 2, 1e-6);
  EXPECT_NEAR(d[0], (1.0 / 3 - 0.1 / 3) / 2, 1e-6);
  EXPECT_NEAR(d[5], (std::exp(3.0 - lse1) - (0.9 + 0.1 / 3)) / 2, 1e-6);
  EXPECT_NEAR(d[3], (std::exp(1.0 - lse1) - 0.1 / 3) / 2, 1e-6);
}

TEST(CrossEntropy, LabelSmoothingEqualsSmoothedSoftTargets) {
  Tensor logits = testing::random_tensor({5, 10}, 6);
  for (auto& v : logits.span()) v *= 4.0f;
  const std::vector<int32_t> labels = {1, 7, 7, 0, 9};
  for (double eps : {0.05, 0.1, 0.3, 1.0}) {
    Tensor targets({5, 10});
    for (int n = 0; n < 5; ++n)
      for (int c = 0; c < 10; ++c)
        targets[n * 10 + c] = static_cast<float>((c == labels[static_cast<size_t>(n)] ? 1.0 - eps : 0.0) + eps / 10);
    Tensor d1, d2;
    const double a = loss::cross_entropy(logits, labels, &d1, eps);
    const double b = loss::categorical_cross_entropy(logits, targets, &d2);
    EXPECT_NEAR(a, b, 1e-5) << "eps " << eps;
    EXPECT_LE(testing::worst_mismatch(d1.data(), d2.data(), d1.numel(), 1e-5, 1e-7), 1.0) << "eps " << eps;
  }
}

TEST(CrossEntropy, LabelSmoothingGradientMatchesFiniteDifferences) {
  Tensor logits = testing::random_tensor({4, 10}, 7);
  for (auto& v : logits.span()) v *= 3.0f;
  const std::vector<int32_t> labels = {3, 0, 9, 3};
  Tensor d;
  loss::cross_entropy(logits, labels, &d, 0.2);
  expect_gradient(logits, d, [&](const Tensor& z) { return loss::cross_entropy(z, labels, nullptr, 0.2); });
}

TEST(CrossEntropy, LabelSmoothingOutOfRangeIsRefused) {
  const Tensor logits({2, 10});
  const std::vector<int32_t> labels = {1, 2};
  for (double eps : {-0.1, 1.5, std::nan("")})
    EXPECT_THROW(loss::cross_entropy(logits, labels, nullptr, eps), Error) << eps;
}

}  // namespace
}  // namespace mnistcnn
