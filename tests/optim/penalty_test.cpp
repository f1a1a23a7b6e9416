// L1/L2 penalties (Keras' kernel_regularizer): the gradient against finite differences,
// which parameters the groups choose, what training with them does to the weights, and
// the errors of bad --l1/--l2 texts.
#include "mnistcnn/optim/penalty.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/train/trainer.h"
#include "support/error_of.h"
#include "train/fit_fixture.h"

namespace mnistcnn {
namespace {

using testing::error_of;

TEST(Penalty, ValueIsKerasFormAndGradientMatchesFiniteDifferences) {
  nn::Param w{"0.weight", Tensor({3, 4}), Tensor({3, 4})};
  Rng rng(5, 0);
  for (int64_t i = 0; i < w.value.numel(); ++i) {
    const double u = rng.uniform() * 2 - 1;  // kept away from 0, the kink of |w|
    w.value[i] = static_cast<float>(u < 0 ? u - 0.1 : u + 0.1);
  }
  optim::Penalty pen;
  pen.set(&w, 0.03, 0.2);
  double abs_sum = 0, sq_sum = 0;
  for (int64_t i = 0; i < w.value.numel(); ++i) {
    const double v = w.value[i];
    abs_sum += std::fabs(v), sq_sum += v * v;
  }
  EXPECT_NEAR(pen.value(), 0.03 * abs_sum + 0.2 * sq_sum, 1e-9);

  w.grad.fill(0.5f);  // the gradient is accumulated, not overwritten
  pen.add_gradient();
  const float h = 1e-2f;
  for (int64_t i = 0; i < w.value.numel(); ++i) {
    const float v = w.value[i];
    w.value[i] = v + h;
    const double up = pen.value();
    w.value[i] = v - h;
    const double down = pen.value();
    w.value[i] = v;
    const double numeric = (up - down) / (2.0 * static_cast<double>(h));
    EXPECT_NEAR(w.grad[i] - 0.5, numeric, 1e-4) << "element " << i;
  }
}

TEST(Penalty, FrozenParametersAreLeftOutOfValueAndGradient) {
  nn::Param w{"0.weight", Tensor({2, 2}), Tensor({2, 2})};
  w.value.fill(1.0f);
  optim::Penalty pen;
  pen.set(&w, 1.0, 1.0);
  EXPECT_DOUBLE_EQ(pen.value(), 8.0);
  w.trainable = false;
  EXPECT_DOUBLE_EQ(pen.value(), 0.0);
  pen.add_gradient();
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(w.grad[i], 0.0f);
  EXPECT_NE(error_of([&] { pen.set(&w, -1, 0); }).find("0.weight"), std::string::npos);
}

// 0 conv 1 batchnorm 2 relu 3 maxpool 4 flatten 5 dense 6 relu 7 dense
const char* kBnNet = "conv(4,3) batchnorm relu maxpool(2) flatten dense(16) relu dense(10)";

double coefficient(const optim::Penalty& pen, const std::string& name, bool l1) {
  for (const auto& t : pen.terms())
    if (t.param->name == name) return l1 ? t.l1 : t.l2;
  return 0;
}

TEST(Penalty, ANumberChoosesEveryConvAndDenseWeightButNoBiasOrBatchNorm) {
  nn::Sequential net = nn::Sequential::from_spec(kBnNet, {1, 12, 12});
  const optim::Penalty pen = optim::make_penalty(net, "", "1e-3");
  std::vector<std::string> names;
  for (const auto& t : pen.terms()) names.push_back(t.param->name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "5.weight", "7.weight"}));
  for (const auto& t : pen.terms()) {
    EXPECT_EQ(t.l1, 0.0);
    EXPECT_EQ(t.l2, 1e-3);
  }
}

TEST(Penalty, GroupsChooseLayersAndLaterPartsWin) {
  nn::Sequential net = nn::Sequential::from_spec(kBnNet, {1, 12, 12});
  const optim::Penalty pen = optim::make_penalty(net, "head=0.5", "features=0.1; dense=0.2; 7=0.3");
  EXPECT_EQ(pen.terms().size(), 3u);
  EXPECT_EQ(coefficient(pen, "0.weight", false), 0.1);
  EXPECT_EQ(coefficient(pen, "5.weight", false), 0.2);
  EXPECT_EQ(coefficient(pen, "7.weight", false), 0.3);
  EXPECT_EQ(coefficient(pen, "7.weight", true), 0.5);
  EXPECT_EQ(coefficient(pen, "0.weight", true), 0.0);
  EXPECT_TRUE(optim::make_penalty(net, "", "").empty());
  EXPECT_TRUE(optim::make_penalty(net, "0", "conv=0").empty());
}

TEST(Penalty, BadSpecsNameTheFlagAndThePart) {
  nn::Sequential net = nn::Sequential::from_spec(kBnNet, {1, 12, 12});
  for (const char* bad : {"abc", "-1", "1e9", "nan", "conv=", "=1", "conv=x", "conv=1;;dense=2", "conv:1"}) {
    const std::string msg = error_of([&] { optim::make_penalty(net, "", bad); });
    EXPECT_NE(msg.find("--l2"), std::string::npos) << bad << ": " << msg;
  }
  const std::string unknown = error_of([&] { optim::make_penalty(net, "bogus=1", ""); });
  EXPECT_NE(unknown.find("--l1"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("bogus"), std::string::npos) << unknown;
  const std::string no_weights = error_of([&] { optim::make_penalty(net, "", "batchnorm=1"); });
  EXPECT_NE(no_weights.find("no conv or dense weights"), std::string::npos) << no_weights;
}

struct PenaltyRun {
  double weight_l1 = 0, weight_l2 = 0;  // of 5.weight (the hidden dense layer)
  int64_t near_zero = 0;                             // |w| < 1e-3 in 5.weight
  double first_loss = 0;
};

PenaltyRun train_with(const std::string& l1, const std::string& l2) {
  const data::Dataset data = synthetic_data();
  data::Loader loader(data, {}, 16, true, 11, data::Normalization::scale());
  TrainingSetup s = make_run("sgd", "constant", loader.num_batches(), 6);
  const optim::Penalty pen = optim::make_penalty(s.net, l1, l2);
  train::FitOptions fo{.epochs = 6};
  fo.penalty = &pen;
  const auto history = train::fit(s.net, *s.opt, loader, nullptr, fo);
  PenaltyRun r;
  r.first_loss = history.front().train_loss;
  for (nn::Param* p : s.net.params()) {
    for (int64_t i = 0; i < p->value.numel(); ++i) {
      const double v = p->value[i];
      if (p->name == "5.weight") r.weight_l1 += std::fabs(v), r.weight_l2 += v * v, r.near_zero += std::fabs(v) < 1e-3;
    }
  }
  r.weight_l2 = std::sqrt(r.weight_l2);
  return r;
}

// Measured (6 epochs of SGD, hidden dense layer of 1,600 weights): no penalty L2 norm 2.65,
// L1 norm 88.5, 17 weights under 1e-3; l2 0.05: L2 norm 0.44; l1 0.01: L1 norm 5.0, 767 under 1e-3.
TEST(Penalty, TrainingWithL2ShrinksTheWeightNormAndL1DrivesWeightsToZero) {
  const PenaltyRun none = train_with("", "");
  const PenaltyRun l2 = train_with("", "0.05");
  const PenaltyRun l1 = train_with("0.01", "");
  EXPECT_LT(l2.weight_l2, 0.5 * none.weight_l2) << "L2 norm " << l2.weight_l2 << " vs " << none.weight_l2;
  EXPECT_LT(l1.weight_l1, 0.2 * none.weight_l1) << "L1 norm " << l1.weight_l1 << " vs " << none.weight_l1;
  // SGD on |w| oscillates around 0 with amplitude lr·l1 = 5e-4 rather than landing on it.
  EXPECT_GT(l1.near_zero, 10 * none.near_zero + 10) << l1.near_zero << " vs " << none.near_zero;
  // The reported loss includes the penalty.
  EXPECT_GT(l2.first_loss, none.first_loss);
}

}  // namespace
}  // namespace mnistcnn
