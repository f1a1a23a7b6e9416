// Max-norm (Keras' MaxNorm) on hand-made dense and conv weights: which units are
// rescaled, to what, and which parameters are left alone.
#include "mnistcnn/optim/constraints.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mnistcnn/core/error.h"

namespace mnistcnn {
namespace {

double row_norm(const Tensor& t, int64_t row) {
  const int64_t n = t.numel() / t.dim(0);
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(t[row * n + i]) * t[row * n + i];
  return std::sqrt(s);
}

TEST(MaxNorm, RescalesDenseRowsAboveTheLimit) {
  nn::Param w{"0.weight", Tensor({3, 2}), Tensor({3, 2})};
  const float v[6] = {3, 4, 0.6f, 0.8f, -6, 8};  // row norms 5, 1, 10
  for (int i = 0; i < 6; ++i) w.value[i] = v[i];
  EXPECT_EQ(optim::apply_max_norm({&w}, 2.0), 2);
  // Keras: w·min(n, 2)/(n + 1e-7).
  EXPECT_NEAR(w.value[0], 3 * 2 / (5 + 1e-7), 1e-6);
  EXPECT_NEAR(w.value[1], 4 * 2 / (5 + 1e-7), 1e-6);
  EXPECT_NEAR(row_norm(w.value, 0), 2.0, 1e-6);
  EXPECT_NEAR(row_norm(w.value, 1), 1.0, 1e-6) << "a row under the limit keeps its norm";
  EXPECT_NEAR(row_norm(w.value, 2), 2.0, 1e-6);
  EXPECT_NEAR(w.value[4] / w.value[5], -6.0 / 8.0, 1e-6) << "the direction is kept";
}

TEST(MaxNorm, ConvFiltersAreNormalisedOverTheirFanIn) {
  nn::Param w{"0.weight", Tensor({2, 3, 2, 2}), Tensor({2, 3, 2, 2})};
  for (int64_t i = 0; i < 12; ++i) w.value[i] = 1.0f;   // filter 0: norm √12 ≈ 3.46
  for (int64_t i = 12; i < 24; ++i) w.value[i] = 0.1f;  // filter 1: norm ≈ 0.35
  EXPECT_EQ(optim::apply_max_norm({&w}, 3.0), 1);
  EXPECT_NEAR(row_norm(w.value, 0), 3.0, 1e-5);
  for (int64_t i = 1; i < 12; ++i) EXPECT_EQ(w.value[i], w.value[0]);
  EXPECT_NEAR(w.value[12], 0.1, 1e-6);
}

TEST(MaxNorm, LeavesBiasesFrozenParametersAndBuffersAlone) {
  nn::Param bias{"0.bias", Tensor({4}), Tensor({4})};
  bias.value.fill(10.0f);
  nn::Param frozen{"1.weight", Tensor({1, 4}), Tensor({1, 4})};
  frozen.value.fill(10.0f);
  frozen.trainable = false;
  nn::Param buffer{"2.running_var", Tensor({2, 2}), Tensor({2, 2}), false, true};
  buffer.value.fill(10.0f);
  buffer.trainable = true;  // even when someone unfroze everything
  EXPECT_EQ(optim::apply_max_norm({&bias, &frozen, &buffer}, 1.0), 0);
  for (const nn::Param* p : {&bias, &frozen, &buffer})
    for (float x : p->value.span()) EXPECT_EQ(x, 10.0f) << p->name;
}

TEST(MaxNorm, RefusesANonPositiveOrNonFiniteLimit) {
  nn::Param w{"0.weight", Tensor({1, 2}), Tensor({1, 2})};
  for (double m : {0.0, -1.0, std::nan(""), HUGE_VAL}) EXPECT_THROW(optim::apply_max_norm({&w}, m), Error) << m;
}

}  // namespace
}  // namespace mnistcnn
