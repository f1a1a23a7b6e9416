// Finite-difference gradient checks of every layer kind, for dx and every parameter,
// on odd shapes with batch > 1 (tests/support/gradcheck.h).
#include <gtest/gtest.h>

#include "mnistcnn/kernels/conv_strided.h"
#include "mnistcnn/kernels/conv_winograd.h"
#include "mnistcnn/nn/activation.h"
#include "mnistcnn/nn/batchnorm.h"
#include "mnistcnn/nn/conv2d.h"
#include "mnistcnn/nn/dropout.h"
#include "mnistcnn/nn/flatten.h"
#include "mnistcnn/nn/global_pool.h"
#include "mnistcnn/nn/linear.h"
#include "mnistcnn/nn/pool2d.h"
#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

using testing::expect_gradients_match;
using testing::random_tensor;

template <class L>
L built(L layer, const Shape& in, nn::Init init = nn::Init::Torch) {
  layer.build(in);
  Rng rng(3, 0);
  layer.init_params(init, rng);
  return layer;
}

TEST(LayerGradient, Conv2dPlain) {
  const Shape in{2, 3, 7, 6};
  auto conv = built(nn::Conv2d({.out_channels = 4, .kernel = 3}), in);
  expect_gradients_match(conv, random_tensor(in, 1));
}

// 16 channels in and out, 3×3, stride 1, a batch of 72 tiles: the Winograd kernels
// (kernels/conv_winograd.h), padded, with an odd output width (a last tile half outside).
TEST(LayerGradient, Conv2dWinograd) {
  const Shape in{2, 16, 12, 11};
  ASSERT_TRUE(kernels::winograd_applies({16, 12, 11, 16, 3, 3, 1, 1}, 2));
  auto conv = built(nn::Conv2d({.out_channels = 16, .kernel = 3, .padding = 1}), in);
  expect_gradients_match(conv, random_tensor(in, 21));
}

// 8 channels in, 24 out (a block of 16 and one of 8), 5×5, stride 2, padding 2 as in
// record: the strided kernels (kernels/conv_strided.h), on an odd plane.
TEST(LayerGradient, Conv2dStrided) {
  const Shape in{2, 8, 9, 7};
#if defined(__AVX2__) && defined(__FMA__)
  ASSERT_TRUE(kernels::strided_conv_applies({8, 9, 7, 24, 5, 5, 2, 2}));
#endif
  auto conv = built(nn::Conv2d({.out_channels = 24, .kernel = 5, .stride = 2, .padding = 2}), in);
  expect_gradients_match(conv, random_tensor(in, 22));
}

TEST(LayerGradient, Conv2dStridePadding) {
  const Shape in{3, 2, 9, 8};
  auto conv = built(nn::Conv2d({.out_channels = 5, .kernel = 3, .stride = 2, .padding = 1}), in);
  expect_gradients_match(conv, random_tensor(in, 2));
}

TEST(LayerGradient, Conv2dNoBiasLargeKernel) {
  const Shape in{2, 1, 11, 11};
  auto conv = built(nn::Conv2d({.out_channels = 3, .kernel = 5, .stride = 3, .padding = 2, .bias = false}), in);
  expect_gradients_match(conv, random_tensor(in, 3));
}

TEST(LayerGradient, Linear) {
  const Shape in{5, 13};
  auto fc = built(nn::Linear({.out_features = 7}), in, nn::Init::GlorotUniform);
  // Glorot init gives zero biases: make them non-zero so the bias path is exercised.
  fc.params()[1]->value.fill(0.25f);
  expect_gradients_match(fc, random_tensor(in, 4));
}

TEST(LayerGradient, MaxPool) {
  const Shape in{2, 3, 7, 9};
  nn::Pool2d pool(nn::Pool2d::Type::Max, {.kernel = 2});
  expect_gradients_match(pool, random_tensor(in, 5, 0.05f));
}

TEST(LayerGradient, MaxPoolOverlappingWithPadding) {
  const Shape in{2, 2, 8, 7};
  nn::Pool2d pool(nn::Pool2d::Type::Max, {.kernel = 3, .stride = 2, .padding = 1});
  expect_gradients_match(pool, random_tensor(in, 6, 0.05f));
}

TEST(LayerGradient, AvgPool) {
  const Shape in{2, 3, 7, 9};
  nn::Pool2d pool(nn::Pool2d::Type::Avg, {.kernel = 3, .stride = 2, .padding = 1});
  expect_gradients_match(pool, random_tensor(in, 7));
}

TEST(LayerGradient, Flatten) {
  const Shape in{3, 2, 3, 5};
  nn::Flatten f;
  expect_gradients_match(f, random_tensor(in, 8));
}

TEST(LayerGradient, Relu) {
  nn::Activation a(nn::Activation::Type::Relu);
  expect_gradients_match(a, random_tensor({3, 2, 4, 5}, 9, 0.05f));
}

TEST(LayerGradient, Sigmoid) {
  nn::Activation a(nn::Activation::Type::Sigmoid);
  expect_gradients_match(a, random_tensor({4, 11}, 10));
}

TEST(LayerGradient, Tanh) {
  nn::Activation a(nn::Activation::Type::Tanh);
  expect_gradients_match(a, random_tensor({4, 11}, 11));
}

TEST(LayerGradient, Softmax) {
  nn::Softmax s;
  expect_gradients_match(s, random_tensor({4, 10}, 12));
}

TEST(LayerGradient, DropoutTrainAndEval) {
  nn::Dropout d(0.3f);
  expect_gradients_match(d, random_tensor({3, 17}, 13));
  expect_gradients_match(d, random_tensor({3, 17}, 14), {.mode = nn::Mode::Eval});
}

TEST(LayerGradient, Conv2dSamePadding) {
  const Shape in{2, 3, 6, 7};
  auto conv = built(nn::Conv2d({.out_channels = 2, .kernel = 5, .same = true}), in);
  EXPECT_EQ(conv.output_shape(in), (Shape{2, 2, 6, 7}));
  expect_gradients_match(conv, random_tensor(in, 17));
}

TEST(LayerGradient, GlobalAvgPool) {
  nn::GlobalAvgPool gap;
  expect_gradients_match(gap, random_tensor({3, 4, 5, 6}, 18));
}

// Kinks: leaky relu at 0 (inputs kept 0.025 away by the grid); elu is smooth for alpha 1
// only, so alpha 0.5 needs the same gap; gelu is smooth.
TEST(LayerGradient, LeakyRelu) {
  nn::Activation a(nn::Activation::Type::LeakyRelu, 0.1f);
  expect_gradients_match(a, random_tensor({3, 2, 4, 5}, 19, 0.05f));
  nn::Activation negative(nn::Activation::Type::LeakyRelu, -0.3f);
  expect_gradients_match(negative, random_tensor({4, 9}, 20, 0.05f));
}

TEST(LayerGradient, Elu) {
  nn::Activation a(nn::Activation::Type::Elu, 1.0f);
  Tensor x = random_tensor({3, 2, 4, 5}, 21);
  for (auto& v : x.span()) v *= 3.0f;
  expect_gradients_match(a, x);
  nn::Activation half(nn::Activation::Type::Elu, 0.5f);
  expect_gradients_match(half, random_tensor({4, 9}, 22, 0.05f));
}

TEST(LayerGradient, Gelu) {
  nn::Activation a(nn::Activation::Type::Gelu);
  Tensor x = random_tensor({3, 2, 4, 5}, 23);
  for (auto& v : x.span()) v *= 4.0f;
  expect_gradients_match(a, x);
}

// Batch norm with non-trivial affine parameters and running statistics.
nn::BatchNorm built_bn(const Shape& in, nn::BatchNorm::Options opt = {}) {
  auto bn = built(nn::BatchNorm(opt), in);
  const auto p = bn.params();
  const int64_t C = in[1];
  Rng rng(5, 0);
  for (int64_t c = 0; c < C; ++c) {
    if (opt.affine) {
      p[0]->value[c] = rng.uniform(0.5f, 2.0f);    // weight
      p[1]->value[c] = rng.uniform(-1.0f, 1.0f);   // bias
    }
    p[p.size() - 3]->value[c] = rng.uniform(-0.5f, 0.5f);  // running_mean
    p[p.size() - 2]->value[c] = rng.uniform(0.5f, 2.0f);   // running_var
  }
  return bn;
}

// Train mode: dx flows through the batch mean and variance as well.
TEST(LayerGradient, BatchNorm2dTrain) {
  const Shape in{3, 4, 5, 3};
  auto bn = built_bn(in);
  Tensor x = random_tensor(in, 24);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = x[i] * 2.0f + static_cast<float>(i % 4);  // per-channel offsets
  expect_gradients_match(bn, x, {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-3});
}

TEST(LayerGradient, BatchNorm1dTrain) {
  const Shape in{6, 5};
  auto bn = built_bn(in);
  expect_gradients_match(bn, random_tensor(in, 25), {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-3});
}

TEST(LayerGradient, BatchNormWithoutAffineTrain) {
  const Shape in{2, 3, 4, 4};
  auto bn = built_bn(in, {.momentum = std::nullopt, .affine = false});
  expect_gradients_match(bn, random_tensor(in, 26), {.eps = 1e-3, .rtol = 1e-2, .atol = 1e-3});
}

TEST(LayerGradient, BatchNormEval) {
  const Shape in{3, 4, 3, 5};
  auto bn = built_bn(in);
  expect_gradients_match(bn, random_tensor(in, 27), {.mode = nn::Mode::Eval});
}

// Frozen (weight and bias not trainable): running statistics even in Train mode, so dx
// is the plain per-channel scale.
TEST(LayerGradient, BatchNormFrozenInTrainMode) {
  const Shape in{4, 3, 2, 3};
  auto bn = built_bn(in);
  for (auto* p : bn.params()) p->trainable = false;
  ASSERT_TRUE(bn.frozen());
  expect_gradients_match(bn, random_tensor(in, 28));
}

TEST(LayerGradient, FrozenParametersGetNoGradient) {
  const Shape in{2, 2, 6, 6};
  auto conv = built(nn::Conv2d({.out_channels = 3, .kernel = 3}), in);
  for (auto* p : conv.params()) p->trainable = false;
  Tensor x = random_tensor(in, 15), y, dx;
  conv.forward(x, y, nn::Mode::Train);
  Tensor dy = random_tensor(y.shape(), 16);
  conv.backward(x, y, dy, &dx);
  for (auto* p : conv.params())
    for (float g : p->grad.span()) ASSERT_EQ(g, 0.0f) << p->name;
  // dx is still computed and still right.
  expect_gradients_match(conv, x);
}

}  // namespace
}  // namespace mnistcnn
