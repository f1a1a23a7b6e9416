// Finite-difference gradient checks of every layer kind, for dx and every parameter,
// on odd shapes with batch > 1 (tests/support/gradcheck.h).
#include <gtest/gtest.h>

#include "mnistcnn/nn/activation.h"
#include "mnistcnn/nn/conv2d.h"
#include "mnistcnn/nn/dropout.h"
#include "mnistcnn/nn/flatten.h"
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
