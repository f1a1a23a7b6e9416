// Reproduces PyTorch on the keras-mnist and lenet presets: logits, loss, every parameter
// gradient and three optimizer steps from the same weights and batch, as recorded in
// tests/fixtures/torch_reference.safetensors by scripts/make_torch_fixture.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/safetensors.h"
#include "mnistcnn/loss/cross_entropy.h"
#include "mnistcnn/nn/registry.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/nn/spec.h"
#include "mnistcnn/optim/optimizer.h"
#include "support/torch_fixture.h"

namespace mnistcnn {
namespace {

using testing::expect_close;
using testing::grad_tol;
using testing::Tol;

const char* const kFixture = "torch_reference.safetensors";

const io::SafetensorsFile& fixture() { return testing::torch_fixture(kFixture); }
const Tensor& torch_ref(const std::string& name) { return testing::torch_tensor(kFixture, name); }

constexpr Tol kLogits{1e-4, 1e-4};
constexpr Tol kLoss{1e-5, 1e-5};
constexpr Tol kParams{1e-4, 1e-4};

std::vector<int32_t> labels(const std::string& tag) { return testing::torch_labels(torch_ref(tag + "/labels")); }

// The preset's network with PyTorch's initial weights copied in by name.
nn::Sequential load_net(const std::string& tag, const std::string& spec) {
  nn::Sequential net = nn::Sequential::from_spec(spec);
  size_t want_params = 0;
  for (const auto& [name, t] : fixture().tensors) {
    const std::string rest = name.substr(0, tag.size() + 1) == tag + "/" ? name.substr(tag.size() + 1) : "";
    want_params += !rest.empty() && std::isdigit(static_cast<unsigned char>(rest[0]));
  }
  const auto params = net.params();
  EXPECT_EQ(params.size(), want_params) << tag << ": parameter count differs from PyTorch's";
  for (nn::Param* p : params) {
    const Tensor& w = torch_ref(tag + "/" + p->name);
    if (w.shape() != p->value.shape())
      throw Error(tag + "/" + p->name + ": shape " + p->value.shape().str() + " vs PyTorch's " + w.shape().str());
    std::copy(w.data(), w.data() + w.numel(), p->value.data());  // in place: layers own the buffer
  }
  return net;
}

void check_forward_backward(const std::string& tag, const std::string& spec) {
  nn::Sequential net = load_net(tag, spec);
  const Tensor& x = torch_ref(tag + "/x");
  const auto y = labels(tag);
  const size_t end = net.logits_end();

  const Tensor logits = net.forward(x, nn::Mode::Train, end);
  expect_close(tag + "/logits", logits, torch_ref(tag + "/logits"), kLogits);

  Tensor dlogits;
  const double loss = loss::cross_entropy(logits, y, &dlogits);
  const float loss_f = static_cast<float>(loss);
  expect_close(tag + "/loss", std::span<const float>(&loss_f, 1), torch_ref(tag + "/loss"), kLoss);

  net.zero_grad();
  net.backward(dlogits, end);
  for (nn::Param* p : net.params()) {
    const Tensor& want = torch_ref(tag + "/grad/" + p->name);
    expect_close(tag + "/grad/" + p->name, p->grad, want, grad_tol(want));
  }

  // Softmax on the logits: the keras net's own trailing layer, lenet's through a
  // stand-alone softmax layer. Matches PyTorch and every row sums to 1.
  Tensor probs;
  if (net.ends_in_softmax()) {
    probs = net.forward(x, nn::Mode::Eval);
  } else {
    nn::LayerPtr softmax = nn::make_layer(nn::parse_spec("softmax").at(0));
    softmax->build(logits.shape());
    softmax->forward(logits, probs, nn::Mode::Eval);
  }
  expect_close(tag + "/probs", probs, torch_ref(tag + "/probs"), {1e-6, 1e-4});
  for (int64_t n = 0; n < probs.dim(0); ++n) {
    double s = 0.0;
    for (int64_t c = 0; c < probs.dim(1); ++c) s += probs[n * probs.dim(1) + c];
    EXPECT_NEAR(s, 1.0, 1e-5) << tag << ": softmax row " << n << " sums to " << s;
  }
}

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<nn::Param*>)>;

// Three steps on the same batch (zero_grad, forward, loss, backward, step), as the script
// does; `prefix` is where the fixture keeps this optimizer's losses and weights.
void check_steps(const std::string& tag, const std::string& spec, const std::string& prefix,
                 const MakeOptimizer& make) {
  nn::Sequential net = load_net(tag, spec);
  const Tensor& x = torch_ref(tag + "/x");
  const auto y = labels(tag);
  const size_t end = net.logits_end();
  auto opt = make(net.params());
  const Tensor& want_losses = torch_ref(prefix + "step_losses");
  std::vector<float> losses;
  Tensor dlogits;
  for (int64_t step = 0; step < want_losses.numel(); ++step) {
    net.zero_grad();
    const Tensor& logits = net.forward(x, nn::Mode::Train, end);
    losses.push_back(static_cast<float>(loss::cross_entropy(logits, y, &dlogits)));
    net.backward(dlogits, end);
    opt->step();
  }
  expect_close(prefix + "step_losses", losses, want_losses, kLoss);
  for (nn::Param* p : net.params())
    expect_close(prefix + "after3/" + p->name, p->value, torch_ref(prefix + "after3/" + p->name), kParams);
}

const std::string kKerasSpec = "conv(32,3) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(10) softmax";
const std::string kLenetSpec =
    "conv(6,3) relu maxpool(2) conv(16,3) relu maxpool(2) flatten dense(120) relu dense(84) relu dense(10)";

TEST(TorchReference, FixtureRecordsItsOrigin) {
  const auto& meta = fixture().metadata;
  ASSERT_TRUE(meta.count("command")) << "regenerate with: /usr/bin/python3 scripts/make_torch_fixture.py";
  EXPECT_EQ(meta.at("command"), "/usr/bin/python3 scripts/make_torch_fixture.py");
  EXPECT_EQ(meta.at("keras_spec"), kKerasSpec);
  EXPECT_EQ(meta.at("lenet_spec"), kLenetSpec);
}

TEST(TorchReference, KerasMnistForwardBackward) { check_forward_backward("keras", kKerasSpec); }

TEST(TorchReference, KerasMnistAdamSteps) {
  check_steps("keras", kKerasSpec, "keras/", [](std::vector<nn::Param*> p) {
    return std::make_unique<optim::Adam>(std::move(p), optim::AdamOptions{.lr = 1e-3, .eps = 1e-7});
  });
}

TEST(TorchReference, KerasMnistAdamWSteps) {
  check_steps("keras", kKerasSpec, "keras/adamw/", [](std::vector<nn::Param*> p) {
    return std::make_unique<optim::Adam>(
        std::move(p), optim::AdamOptions{.lr = 1e-3, .eps = 1e-7, .weight_decay = 0.1, .decoupled = true});
  });
}

TEST(TorchReference, LenetForwardBackward) { check_forward_backward("lenet", kLenetSpec); }

TEST(TorchReference, LenetSgdMomentumSteps) {
  check_steps("lenet", kLenetSpec, "lenet/", [](std::vector<nn::Param*> p) {
    return std::make_unique<optim::Sgd>(std::move(p), optim::SgdOptions{.lr = 0.01, .momentum = 0.9});
  });
}

TEST(TorchReference, LenetSgdNesterovWeightDecaySteps) {
  check_steps("lenet", kLenetSpec, "lenet/nesterov/", [](std::vector<nn::Param*> p) {
    return std::make_unique<optim::Sgd>(
        std::move(p), optim::SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  });
}

}  // namespace
}  // namespace mnistcnn
