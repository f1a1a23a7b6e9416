// Sequential: whole-network gradients against finite differences, half batches summing
// to the full batch, seeds, frozen layers, where backward stops, and infer().
#include "mnistcnn/nn/sequential.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/conv.h"
#include "mnistcnn/loss/cross_entropy.h"
#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

const char* kSmallNet = "conv(4,3,pad=1) tanh maxpool(2) conv(6,3,stride=2) sigmoid flatten dense(5)";

double loss_of(nn::Sequential& net, const Tensor& x, const std::vector<int32_t>& y) {
  return loss::cross_entropy(net.forward(x, nn::Mode::Train), y, nullptr);
}

TEST(Sequential, NetworkGradientMatchesFiniteDifferences) {
  nn::Sequential net = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  net.init(nn::Init::Torch, 5);
  const Tensor x = testing::random_tensor({3, 1, 10, 10}, 9);
  const std::vector<int32_t> y = {0, 4, 2};
  Tensor d;
  net.zero_grad();
  loss::cross_entropy(net.forward(x, nn::Mode::Train), y, &d);
  net.backward(d);
  for (nn::Param* p : net.params()) {
    for (int64_t i = 0; i < p->value.numel(); i += 3) {
      const float keep = p->value[i];
      p->value[i] = keep + 1e-2f;
      const double up = loss_of(net, x, y);
      p->value[i] = keep - 1e-2f;
      const double down = loss_of(net, x, y);
      p->value[i] = keep;
      EXPECT_NEAR(p->grad[i], (up - down) / 2e-2, 2e-3 + 2e-2 * std::fabs(p->grad[i])) << p->name << "[" << i << "]";
    }
  }
}

TEST(Sequential, TwoHalfBatchesEqualOneFullBatch) {
  nn::Sequential net = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  net.init(nn::Init::GlorotUniform, 1);
  const Tensor x = testing::random_tensor({4, 1, 10, 10}, 2);
  const std::vector<int32_t> y = {1, 2, 3, 4};
  Tensor d;
  net.zero_grad();
  loss::cross_entropy(net.forward(x, nn::Mode::Train), y, &d);
  net.backward(d);
  std::vector<Tensor> full;
  for (auto* p : net.params()) full.push_back(p->grad);

  net.zero_grad();
  for (int half = 0; half < 2; ++half) {
    Tensor xh({2, 1, 10, 10});
    for (int64_t i = 0; i < xh.numel(); ++i) xh[i] = x[half * xh.numel() + i];
    const std::vector<int32_t> yh = {y[static_cast<size_t>(2 * half)], y[static_cast<size_t>(2 * half + 1)]};
    loss::cross_entropy(net.forward(xh, nn::Mode::Train), yh, &d);
    for (auto& g : d.span()) g *= 0.5f;  // each half's mean is over 2, the full batch's over 4
    net.backward(d);
  }
  size_t k = 0;
  for (auto* p : net.params()) {
    EXPECT_LE(testing::worst_mismatch(p->grad.data(), full[k].data(), p->grad.numel(), 1e-4, 1e-6), 1.0) << p->name;
    ++k;
  }
}

TEST(Sequential, SameSeedSameWeightsDifferentSeedDifferent) {
  auto a = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  auto b = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  auto c = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  a.init(nn::Init::Torch, 42);
  b.init(nn::Init::Torch, 42);
  c.init(nn::Init::Torch, 43);
  auto pa = a.params(), pb = b.params(), pc = c.params();
  bool differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    for (int64_t j = 0; j < pa[i]->value.numel(); ++j) {
      ASSERT_EQ(pa[i]->value[j], pb[i]->value[j]);
      differs = differs || pa[i]->value[j] != pc[i]->value[j];
    }
  }
  EXPECT_TRUE(differs);
}

TEST(Sequential, BackwardStopsAtTheFirstTrainableLayer) {
  auto net = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  net.init(nn::Init::Torch, 3);
  for (size_t i = 0; i < 4; ++i)  // freeze the first conv (layer 0) and second conv (layer 3)
    for (auto* p : net.layer(i).params()) p->trainable = false;
  const Tensor x = testing::random_tensor({2, 1, 10, 10}, 4);
  const std::vector<int32_t> y = {0, 1};
  Tensor d;
  net.zero_grad();
  loss::cross_entropy(net.forward(x, nn::Mode::Train), y, &d);
  net.backward(d);
  for (size_t i = 0; i < 4; ++i)
    for (auto* p : net.layer(i).params())
      for (float g : p->grad.span()) ASSERT_EQ(g, 0.0f) << p->name;
  float dense_grad = 0;
  for (float g : net.layer(6).params()[0]->grad.span()) dense_grad += std::fabs(g);
  EXPECT_GT(dense_grad, 0.0f);
}

TEST(Sequential, TrailingSoftmaxIsLeftOutOfTheLogits) {
  auto net = nn::Sequential::from_spec("flatten dense(3) softmax", {1, 2, 2});
  EXPECT_TRUE(net.ends_in_softmax());
  EXPECT_EQ(net.logits_end(), 2u);
  net.init(nn::Init::Torch, 1);
  const Tensor x = testing::random_tensor({2, 1, 2, 2}, 1);
  const Tensor& probs = net.forward(x, nn::Mode::Eval);
  for (int n = 0; n < 2; ++n) EXPECT_NEAR(probs[n * 3] + probs[n * 3 + 1] + probs[n * 3 + 2], 1.0f, 1e-6);
}

TEST(Sequential, RejectsInputOfTheWrongShape) {
  auto net = nn::Sequential::from_spec("flatten dense(3)", {1, 4, 4});
  net.init(nn::Init::Torch, 1);
  const Tensor x({2, 1, 5, 5});
  EXPECT_THROW(net.forward(x, nn::Mode::Eval), Error);
}


// infer() is forward in Eval mode through two alternating buffers: the same bits, for
// every layer kind that behaves differently in training (dropout, batch norm) too.
TEST(Sequential, InferEqualsEvalForwardAndKeepsNothingForBackward) {
  auto net = nn::Sequential::from_spec("conv(4,3,pad=1) bn relu dropout(0.5) maxpool(2) conv(6,3) bn leakyrelu flatten "
                                       "dense(7) dropout(0.3) dense(5) softmax",
                                       {1, 10, 10});
  net.init(nn::Init::Torch, 3);
  const Tensor x = testing::random_tensor({5, 1, 10, 10}, 2);
  (void)net.forward(x, nn::Mode::Train);  // moves the running statistics off their start
  const Tensor eval = net.forward(x, nn::Mode::Eval);
  const Tensor logits = net.forward(x, nn::Mode::Eval, net.logits_end());
  for (int round = 0; round < 2; ++round) {  // the second reuses the buffers
    const Tensor& a = net.infer(x);
    ASSERT_EQ(a.shape(), eval.shape());
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], eval[i]) << i;
    const Tensor& b = net.infer(x, net.logits_end());
    for (int64_t i = 0; i < b.numel(); ++i) ASSERT_EQ(b[i], logits[i]) << i;
  }
  EXPECT_THROW(net.backward(Tensor({5, 5}), net.logits_end()), Error);
  EXPECT_THROW(net.infer(Tensor({2, 1, 9, 9})), Error);
}

// Training runs a ReLU, and 2×2 max pooling after it, inside the convolution or batch
// norm before them (forward_fused), and a convolution's output is a flatten's after it
// (reshaped, not copied): the same bits as the layers one by one (set_fusion off), for
// outputs and running statistics, and for gradients when every convolution builds
// columns; odd sizes before the pooling, no bias, batch norm on N×C×H×W and N×F, a
// frozen first layer, the input gradient, a ReLU that ends the network, a pooling that is
// not fused and a flatten right after a convolution included. With the algorithms chosen per layer, a convolution's
// backward through its pooling sums over the windows' maxima alone (kernels/conv_pooled.h):
// the same gradients up to rounding.
TEST(Sequential, TrainingFusesReluAndPoolingWithTheSameBits) {
  for (const auto algorithm : {kernels::ConvAlgorithm::Columns, kernels::ConvAlgorithm::Auto}) {
    kernels::set_conv_algorithm(algorithm);
    const bool same_bits = algorithm == kernels::ConvAlgorithm::Columns;
    bool any_other_bits = false;
    for (const char* spec : {"conv(4,3,pad=1) relu maxpool(2) conv(6,3) relu flatten dense(5)",
                             "conv(3,3) relu conv(2,3,stride=2,bias=false) relu flatten dense(4) relu",
                             "conv(3,4) relu maxpool(2) conv(5,2,bias=false) relu maxpool(2) flatten dense(4)",
                             "conv(3,3) relu maxpool(2,stride=1) conv(2,3) maxpool(2) relu flatten dense(3)",
                             "conv(4,3) batchnorm relu maxpool(2) conv(3,2) batchnorm relu flatten dense(6) "
                             "batchnorm relu dense(3)",
                             "conv(3,3,bias=false) batchnorm(affine=false) relu maxpool(2) flatten dense(3)",
                             "conv(3,3) flatten dense(4) relu dense(2)",  // a flatten alone after a convolution
                             // Winograd (16 channels in and out), odd planes
                             "conv(16,3) relu conv(16,3,pad=1) relu maxpool(2) conv(16,3,pad=1) relu flatten dense(3)",
                             // the strided kernels (channels multiples of 8, stride 2), an odd plane pooled
                             "conv(8,3) relu conv(24,5,stride=2,pad=2) relu maxpool(2) flatten dense(3)"}) {
      for (bool frozen_first : {false, true}) {
        std::vector<std::vector<float>> params[2];
        Tensor outputs[2], input_grad[2];
        for (int fused = 0; fused < 2; ++fused) {
          auto net = nn::Sequential::from_spec(spec, {1, 11, 11});
          net.init(nn::Init::Torch, 4);
          net.set_fusion(fused == 1);
          for (nn::Param* p : net.layer(0).params()) p->trainable = !frozen_first;
          const Tensor x = testing::random_tensor({3, 1, 11, 11}, 6);
          const Tensor dout = testing::random_tensor(net.shapes(3).back(), 7);
          net.zero_grad();
          outputs[fused] = net.forward(x, nn::Mode::Train);
          size_t shared = 0;  // layers whose output is the layer before's: fused into it
          for (size_t i = 1; i < net.size(); ++i) shared += &net.output(i) == &net.output(i - 1);
          EXPECT_EQ(shared > 0, fused == 1) << spec;
          net.backward(dout, nn::Sequential::kAll, /*to_input=*/frozen_first);
          if (frozen_first) input_grad[fused] = net.input_grad();
          for (nn::Param* p : net.params()) {  // gradients, and batch norm's running statistics
            params[fused].emplace_back(p->grad.data(), p->grad.data() + p->grad.numel());
            params[fused].emplace_back(p->value.data(), p->value.data() + p->value.numel());
          }
          if (fused == 0) continue;
          const Tensor& inferred = net.infer(x);  // Eval, fused, against Eval forward, never fused
          const Tensor eval = net.forward(x, nn::Mode::Eval);
          ASSERT_EQ(inferred.shape(), eval.shape());
          for (int64_t i = 0; i < eval.numel(); ++i) ASSERT_EQ(inferred[i], eval[i]) << spec << " infer " << i;
        }
        ASSERT_EQ(outputs[0].shape(), outputs[1].shape());
        for (int64_t i = 0; i < outputs[0].numel(); ++i)
          ASSERT_EQ(outputs[0][i], outputs[1][i]) << spec << " output " << i;
        ASSERT_EQ(params[0].size(), params[1].size());
        for (size_t k = 0; k < params[0].size(); ++k) {
          if (same_bits || k % 2 == 1) {  // values and running statistics: always the same bits
            EXPECT_EQ(params[0][k], params[1][k]) << spec << " parameter " << k;
            continue;
          }
          ASSERT_EQ(params[0][k].size(), params[1][k].size());
          any_other_bits |= params[0][k] != params[1][k];
          EXPECT_LE(testing::worst_mismatch(params[1][k].data(), params[0][k].data(),
                                            static_cast<int64_t>(params[0][k].size()), 1e-4, 1e-5),
                    1.0)
              << spec << " gradient " << k;
        }
        ASSERT_EQ(input_grad[0].numel(), input_grad[1].numel());
        if (same_bits) {
          for (int64_t i = 0; i < input_grad[0].numel(); ++i)
            ASSERT_EQ(input_grad[0][i], input_grad[1][i]) << spec << " dx " << i;
        } else {
          EXPECT_LE(
              testing::worst_mismatch(input_grad[1].data(), input_grad[0].data(), input_grad[0].numel(), 1e-4, 1e-5),
              1.0)
              << spec << " dx";
        }
      }
    }
#if defined(__AVX512F__)
    if (!same_bits) {
      EXPECT_TRUE(any_other_bits) << "the pooled backward did not run";
    }
#endif
  }
  kernels::set_conv_algorithm(kernels::ConvAlgorithm::Auto);
}

// Inference fuses the pooling without its argmax (nothing to go back through): a
// layer's backward right after it is refused, and a training forward brings it back.
TEST(Sequential, BackwardAfterAnInferenceForwardIsRefused) {
  auto net = nn::Sequential::from_spec("conv(4,3) relu maxpool(2) flatten dense(3)", {1, 10, 10});
  net.init(nn::Init::Torch, 2);
  const Tensor x = testing::random_tensor({2, 1, 10, 10}, 3);
  (void)net.infer(x);
  const Tensor pooled = testing::random_tensor({2, 4, 4, 4}, 4);
  Tensor dx;
  EXPECT_THROW(net.layer(0).backward(x, pooled, pooled, &dx), Error);
  net.forward(x, nn::Mode::Train);
  EXPECT_NO_THROW(net.backward(testing::random_tensor({2, 3}, 5), nn::Sequential::kAll, true));
}

TEST(Sequential, InputGradientMatchesFiniteDifferences) {
  nn::Sequential net = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  net.init(nn::Init::Torch, 7);
  for (nn::Param* p : net.params()) p->trainable = false;  // input gradient even when all is frozen
  Tensor x = testing::random_tensor({2, 1, 10, 10}, 3);
  const std::vector<int32_t> y = {1, 3};
  Tensor d;
  loss::cross_entropy(net.forward(x, nn::Mode::Train), y, &d);
  net.backward(d, nn::Sequential::kAll, true);
  const Tensor dx = net.input_grad();
  ASSERT_EQ(dx.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); i += 7) {
    const float keep = x[i];
    x[i] = keep + 1e-2f;
    const double up = loss_of(net, x, y);
    x[i] = keep - 1e-2f;
    const double down = loss_of(net, x, y);
    x[i] = keep;
    EXPECT_NEAR(dx[i], (up - down) / 2e-2, 2e-3 + 2e-2 * std::fabs(dx[i])) << i;
  }
  for (nn::Param* p : net.params())
    for (int64_t i = 0; i < p->grad.numel(); ++i) ASSERT_EQ(p->grad[i], 0.0f) << p->name;
}

TEST(Sequential, CloneGivesTheSameOutputsAndIsIndependent) {
  nn::Sequential net = nn::Sequential::from_spec(kSmallNet, {1, 10, 10});
  net.init(nn::Init::Torch, 11);
  net.params()[0]->trainable = false;
  nn::Sequential copy = net.clone();
  const Tensor x = testing::random_tensor({3, 1, 10, 10}, 4);
  const Tensor a = net.forward(x, nn::Mode::Eval);
  const Tensor b = copy.forward(x, nn::Mode::Eval);
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a[i], b[i]);
  EXPECT_FALSE(copy.params()[0]->trainable);
  EXPECT_EQ(copy.params()[0]->name, net.params()[0]->name);
  copy.params()[1]->value[0] += 1.0f;
  EXPECT_NE(copy.params()[1]->value[0], net.params()[1]->value[0]);
}

}  // namespace
}  // namespace mnistcnn
