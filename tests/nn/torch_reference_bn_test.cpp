// Reproduces PyTorch on a small network with the layers of issue 7 (batch norm 2d and
// 1d, momentum=None, same padding, global average pooling, leakyrelu/elu/gelu): eval and
// train logits, loss with and without label smoothing, gradients, running statistics,
// and three SGD steps with and without the first block frozen, as recorded in
// tests/fixtures/torch_reference_bn.safetensors by scripts/make_torch_fixture.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/loss/cross_entropy.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/optim/optimizer.h"
#include "support/torch_fixture.h"

namespace mnistcnn {
namespace {

using testing::expect_close;
using testing::grad_tol;
using testing::Tol;

const char* const kFixture = "torch_reference_bn.safetensors";
const std::string kSpec =
    "conv(8,3,pad=same) batchnorm leakyrelu(0.1) maxpool(2) conv(16,3) batchnorm elu(1) maxpool(2) "
    "conv(16,3,pad=same) batchnorm(momentum=none) gelu gap flatten dense(24) batchnorm(eps=0.001) gelu dense(10)";

constexpr Tol kLogits{1e-4, 1e-4};
constexpr Tol kLoss{1e-5, 1e-5};
constexpr Tol kState{1e-4, 1e-4};

const Tensor& bn_ref(const std::string& name) { return testing::torch_tensor(kFixture, name); }

// The network with PyTorch's whole state_dict (parameters and buffers) copied in by name.
nn::Sequential load_net() {
  nn::Sequential net = nn::Sequential::from_spec(kSpec);
  size_t in_fixture = 0;
  for (const auto& [name, t] : testing::torch_fixture(kFixture).tensors)
    in_fixture += name.size() > 3 && name.compare(0, 3, "bn/") == 0 && std::isdigit(static_cast<unsigned char>(name[3]));
  EXPECT_EQ(net.params().size(), in_fixture) << "state_dict entries differ from PyTorch's";
  for (nn::Param* p : net.params()) {
    const Tensor& w = bn_ref("bn/" + p->name);
    if (w.shape() != p->value.shape())
      throw Error("bn/" + p->name + ": shape " + p->value.shape().str() + " vs PyTorch's " + w.shape().str());
    std::copy(w.data(), w.data() + w.numel(), p->value.data());
  }
  return net;
}

void expect_state(const std::string& prefix, nn::Sequential& net, bool buffers_only) {
  for (nn::Param* p : net.params())
    if (p->buffer || !buffers_only) expect_close(prefix + p->name, p->value, bn_ref(prefix + p->name), kState);
}

TEST(TorchReferenceBn, FixtureRecordsItsOrigin) {
  const auto& meta = testing::torch_fixture(kFixture).metadata;
  EXPECT_EQ(meta.at("command"), "/usr/bin/python3 scripts/make_torch_fixture.py");
  EXPECT_EQ(meta.at("bn_spec"), kSpec);
}

// PyTorch keeps num_batches_tracked as an int64 scalar; it loads here as Shape{1}.
TEST(TorchReferenceBn, LoadsTheStateDictIncludingTheInt64Counter) {
  nn::Sequential net = load_net();
  EXPECT_EQ(net.params()[6]->name, "1.num_batches_tracked");
  EXPECT_EQ(net.params()[6]->value[0], 5.0f);
  EXPECT_EQ(net.params()[6]->value.shape(), (Shape{1}));
}

TEST(TorchReferenceBn, EvalLogitsUseTheRunningStatistics) {
  nn::Sequential net = load_net();
  expect_close("bn/eval_logits", net.forward(bn_ref("bn/x"), nn::Mode::Eval), bn_ref("bn/eval_logits"), kLogits);
}

TEST(TorchReferenceBn, TrainForwardBackwardAndRunningStatistics) {
  nn::Sequential net = load_net();
  const auto y = testing::torch_labels(bn_ref("bn/labels"));
  const Tensor logits = net.forward(bn_ref("bn/x"), nn::Mode::Train);
  expect_close("bn/logits", logits, bn_ref("bn/logits"), kLogits);
  expect_state("bn/train1/", net, true);

  Tensor dlogits;
  const auto loss = static_cast<float>(loss::cross_entropy(logits, y, &dlogits));
  expect_close("bn/loss", std::span<const float>(&loss, 1), bn_ref("bn/loss"), kLoss);
  net.zero_grad();
  net.backward(dlogits);
  for (nn::Param* p : net.params())
    if (!p->buffer) {
      const Tensor& want = bn_ref("bn/grad/" + p->name);
      // The bias of a layer feeding batch norm has a zero gradient (the batch mean takes
      // it away): both sides hold rounding noise, judged on the scale of the weights'.
      const bool before_bn = p->name == "0.bias" || p->name == "4.bias" || p->name == "8.bias" || p->name == "13.bias";
      Tol tol = grad_tol(before_bn ? bn_ref("bn/grad/" + p->name.substr(0, p->name.find('.')) + ".weight") : want);
      expect_close("bn/grad/" + p->name, p->grad, want, tol);
    }

  // PyTorch's label_smoothing=0.1 on the same logits.
  Tensor dsmooth;
  const auto smooth = static_cast<float>(loss::cross_entropy(logits, y, &dsmooth, 0.1));
  expect_close("bn/loss_smooth", std::span<const float>(&smooth, 1), bn_ref("bn/loss_smooth"), kLoss);
  expect_close("bn/dlogits_smooth", dsmooth, bn_ref("bn/dlogits_smooth"), {1e-7, 1e-5});
}

// Three SGD steps on the same batch; `frozen` layers have every tensor non-trainable,
// which for batch norm means running statistics, as PyTorch's eval() on that module.
void check_steps(const std::string& prefix, std::vector<size_t> frozen) {
  nn::Sequential net = load_net();
  for (size_t i : frozen)
    for (nn::Param* p : net.layer(i).params()) p->trainable = false;
  const Tensor& x = bn_ref("bn/x");
  const auto y = testing::torch_labels(bn_ref("bn/labels"));
  optim::Sgd opt(net.params(), {.lr = 0.05, .momentum = 0.9});
  std::vector<float> losses;
  Tensor dlogits;
  for (int step = 0; step < 3; ++step) {
    net.zero_grad();
    losses.push_back(static_cast<float>(loss::cross_entropy(net.forward(x, nn::Mode::Train), y, &dlogits)));
    net.backward(dlogits);
    opt.step();
  }
  expect_close(prefix + "step_losses", losses, bn_ref(prefix + "step_losses"), kLoss);
  expect_state(prefix + "after3/", net, false);
  expect_close(prefix + "after3/eval_logits", net.forward(x, nn::Mode::Eval), bn_ref(prefix + "after3/eval_logits"),
               kLogits);
}

TEST(TorchReferenceBn, SgdSteps) { check_steps("bn/", {}); }

TEST(TorchReferenceBn, SgdStepsWithTheFirstBlockFrozen) { check_steps("bn/frozen/", {0, 1}); }

}  // namespace
}  // namespace mnistcnn
