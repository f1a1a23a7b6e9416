// Batch norm beyond its gradients: forward by hand in both modes, the running-statistics
// update (unbiased variance, momentum, cumulative), frozen semantics, buffers in a
// Sequential (names, counts, save/load, clone), and thread-count independence.
#include "mnistcnn/nn/batchnorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/nn/sequential.h"
#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

struct BnParams {
  nn::Param *weight, *bias, *mean, *var, *count;
};

BnParams named(nn::BatchNorm& bn) {
  auto p = bn.params();
  return {p[0], p[1], p[2], p[3], p[4]};
}

nn::BatchNorm built(const Shape& in, nn::BatchNorm::Options opt = {}) {
  nn::BatchNorm bn(opt);
  bn.build(in);
  Rng rng(0, 0);
  bn.init_params(nn::Init::Torch, rng);
  return bn;
}

TEST(BatchNorm, PyTorchNamesAndInitialValues) {
  auto bn = built({2, 3, 4, 4});
  std::vector<std::string> names;
  for (auto* p : bn.params()) names.push_back(p->name + p->value.shape().str() + (p->buffer ? " buffer" : ""));
  EXPECT_EQ(names, (std::vector<std::string>{"weight[3]", "bias[3]", "running_mean[3] buffer", "running_var[3] buffer",
                                             "num_batches_tracked[1] buffer"}));
  const auto p = named(bn);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(p.weight->value[c], 1.0f);
    EXPECT_EQ(p.bias->value[c], 0.0f);
    EXPECT_EQ(p.mean->value[c], 0.0f);
    EXPECT_EQ(p.var->value[c], 1.0f);
  }
  EXPECT_EQ(p.count->value[0], 0.0f);
  for (auto* b : {p.mean, p.var, p.count}) EXPECT_FALSE(b->learnable());
}

// Eval mode, worked by hand: y = (x − running_mean)/√(running_var + eps)·weight + bias.
TEST(BatchNorm, EvalForwardByHand) {
  auto bn = built({2, 2});
  const auto p = named(bn);
  p.mean->value[0] = 1.0f, p.mean->value[1] = -2.0f;
  p.var->value[0] = 4.0f, p.var->value[1] = 0.25f;
  p.weight->value[0] = 3.0f, p.weight->value[1] = -1.0f;
  p.bias->value[0] = 0.5f, p.bias->value[1] = 2.0f;
  Tensor x({2, 2}), y;
  const float xs[4] = {5, 0, -1, -3};
  for (int i = 0; i < 4; ++i) x[i] = xs[i];
  bn.forward(x, y, nn::Mode::Eval);
  const double s0 = 1.0 / std::sqrt(4.0 + 1e-5), s1 = 1.0 / std::sqrt(0.25 + 1e-5);
  EXPECT_NEAR(y[0], (5 - 1) * s0 * 3 + 0.5, 1e-5);
  EXPECT_NEAR(y[1], (0 + 2) * s1 * -1 + 2, 1e-5);
  EXPECT_NEAR(y[2], (-1 - 1) * s0 * 3 + 0.5, 1e-5);
  EXPECT_NEAR(y[3], (-3 + 2) * s1 * -1 + 2, 1e-5);
  EXPECT_EQ(p.count->value[0], 0.0f) << "eval leaves the statistics alone";
  EXPECT_EQ(p.mean->value[0], 1.0f);
}

// Train mode on one channel of values 1, 2, 3, 6 (mean 3, biased var 3.5, unbiased 14/3).
TEST(BatchNorm, TrainNormalisesWithBiasedAndTracksUnbiasedVariance) {
  auto bn = built({2, 1, 1, 2});
  Tensor x({2, 1, 1, 2}), y;
  const float xs[4] = {1, 2, 3, 6};
  for (int i = 0; i < 4; ++i) x[i] = xs[i];
  bn.forward(x, y, nn::Mode::Train);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], (xs[i] - 3.0) / std::sqrt(3.5 + 1e-5), 1e-5);
  const auto p = named(bn);
  EXPECT_NEAR(p.mean->value[0], 0.1 * 3.0, 1e-6);
  EXPECT_NEAR(p.var->value[0], 0.9 * 1.0 + 0.1 * 14.0 / 3.0, 1e-6);
  EXPECT_EQ(p.count->value[0], 1.0f);
  bn.forward(x, y, nn::Mode::Train);
  EXPECT_NEAR(p.mean->value[0], 0.9 * 0.3 + 0.1 * 3.0, 1e-6);
  EXPECT_EQ(p.count->value[0], 2.0f);
}

// momentum=none: the running statistics are the plain average over the batches seen.
TEST(BatchNorm, CumulativeAverageWithoutMomentum) {
  auto bn = built({4, 2}, {.momentum = std::nullopt});
  Tensor y;
  double mean_sum[2] = {0, 0}, var_sum[2] = {0, 0};
  for (int b = 0; b < 3; ++b) {
    Tensor x = testing::random_tensor({4, 2}, 40 + b);
    bn.forward(x, y, nn::Mode::Train);
    for (int c = 0; c < 2; ++c) {
      double m = 0, v = 0;
      for (int n = 0; n < 4; ++n) m += x[n * 2 + c] / 4.0;
      for (int n = 0; n < 4; ++n) v += (x[n * 2 + c] - m) * (x[n * 2 + c] - m) / 3.0;
      mean_sum[c] += m;
      var_sum[c] += v;
    }
  }
  const auto p = named(bn);
  for (int c = 0; c < 2; ++c) {
    EXPECT_NEAR(p.mean->value[c], mean_sum[c] / 3, 1e-6);
    EXPECT_NEAR(p.var->value[c], var_sum[c] / 3, 1e-6);
  }
  EXPECT_EQ(bn.spec(), "batchnorm(momentum=none)");
}

TEST(BatchNorm, FrozenUsesAndKeepsRunningStatisticsInTrainMode) {
  auto bn = built({3, 2, 2, 2});
  const auto p = named(bn);
  p.mean->value[0] = 0.3f, p.var->value[1] = 2.0f;
  const Tensor x = testing::random_tensor({3, 2, 2, 2}, 41);
  Tensor y_eval, y_train;
  bn.forward(x, y_eval, nn::Mode::Eval);
  p.weight->trainable = p.bias->trainable = false;
  ASSERT_TRUE(bn.frozen());
  bn.forward(x, y_train, nn::Mode::Train);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y_train[i], y_eval[i]);
  EXPECT_EQ(p.mean->value[0], 0.3f);
  EXPECT_EQ(p.var->value[1], 2.0f);
  EXPECT_EQ(p.count->value[0], 0.0f);
  // One trainable affine parameter is enough to train the layer normally.
  p.bias->trainable = true;
  EXPECT_FALSE(bn.frozen());
}

TEST(BatchNorm, OneValuePerChannelCannotTrain) {
  auto bn1d = built({1, 4});
  Tensor x = testing::random_tensor({1, 4}, 42), y;
  try {
    bn1d.forward(x, y, nn::Mode::Train);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than one value per channel"), std::string::npos) << e.what();
  }
  bn1d.forward(x, y, nn::Mode::Eval);  // inference on one image is fine
  auto bn2d = built({1, 2, 3, 3});
  Tensor x2 = testing::random_tensor({1, 2, 3, 3}, 43);
  bn2d.forward(x2, y, nn::Mode::Train);  // 9 values per channel
}

TEST(BatchNorm, SpecArgumentsRoundTrip) {
  for (const std::string s : {"batchnorm", "batchnorm(eps=0.001,momentum=0.01)", "batchnorm(momentum=none,affine=false)"}) {
    nn::Sequential net = nn::Sequential::from_spec("conv(4,3) " + s + " relu flatten dense(10)");
    EXPECT_EQ(net.layer(1).spec(), s);
  }
  nn::Sequential net = nn::Sequential::from_spec("conv(4,3) BatchNorm2d(1e-3, 0.01) flatten bn batchnorm1d dense(10)");
  EXPECT_EQ(net.spec(), "conv(4,3) batchnorm(eps=0.001,momentum=0.01) flatten batchnorm batchnorm dense(10)");
  EXPECT_THROW(nn::Sequential::from_spec("batchnorm(momentum=2)"), Error);
  EXPECT_THROW(nn::Sequential::from_spec("batchnorm(eps=0)"), Error);
  EXPECT_THROW(nn::Sequential::from_spec("batchnorm(momentum=never)"), Error);
}

TEST(BatchNorm, SequentialCountsBuffersApartAndSavesThem) {
  nn::Sequential net = nn::Sequential::from_spec("conv(4,3) batchnorm relu flatten dense(10)");
  net.init(nn::Init::Torch, 3);
  // conv 4·9 + 4, batchnorm 4 + 4 (buffers 4 + 4 + 1 not counted), dense 10·2704 + 10.
  EXPECT_EQ(net.param_count(), 40 + 8 + 27050);
  EXPECT_EQ(net.params()[5]->name, "1.running_var");
  Tensor x = testing::random_tensor({5, 1, 28, 28}, 44);
  for (int i = 0; i < 3; ++i) net.forward(x, nn::Mode::Train);  // moves the running statistics
  const Tensor want = net.forward(x, nn::Mode::Eval);

  const std::string path = ::testing::TempDir() + "bn_model.safetensors";
  io::save_model(path, net, {});
  io::LoadedModel m = io::load_model(path);
  std::filesystem::remove(path);
  const Tensor got = m.net.forward(x, nn::Mode::Eval);
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(got[i], want[i]) << i;
  EXPECT_EQ(m.net.params()[6]->name, "1.num_batches_tracked");
  EXPECT_EQ(m.net.params()[6]->value[0], 3.0f);
  nn::Sequential copy = net.clone();
  const Tensor cloned = copy.forward(x, nn::Mode::Eval);
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(cloned[i], want[i]) << i;
}

TEST(BatchNorm, ResultsDoNotDependOnTheThreadCount) {
  const Shape in{16, 32, 13, 13};  // large enough to run in parallel
  const Tensor x = testing::random_tensor(in, 45), dy = testing::random_tensor(in, 46);
  auto run = [&](int threads, Tensor& y, Tensor& dx, std::vector<float>& grads) {
    kernels::set_num_threads(threads);
    auto bn = built(in);
    bn.forward(x, y, nn::Mode::Train);
    bn.backward(x, y, dy, &dx);
    grads.clear();
    for (auto* p : bn.params()) grads.insert(grads.end(), p->value.data(), p->value.data() + p->value.numel());
    for (auto* p : bn.params()) grads.insert(grads.end(), p->grad.data(), p->grad.data() + p->grad.numel());
  };
  Tensor y1, dx1, y2, dx2;
  std::vector<float> g1, g2;
  run(1, y1, dx1, g1);
  run(2, y2, dx2, g2);
  kernels::set_num_threads(0);
  for (int64_t i = 0; i < y1.numel(); ++i) ASSERT_EQ(y1[i], y2[i]) << i;
  for (int64_t i = 0; i < dx1.numel(); ++i) ASSERT_EQ(dx1[i], dx2[i]) << i;
  EXPECT_EQ(g1, g2);
}

}  // namespace
}  // namespace mnistcnn
