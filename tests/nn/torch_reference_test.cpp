// Reproduces PyTorch on the keras-mnist and lenet presets: logits, loss, every parameter
// gradient and three optimizer steps from the same weights and batch, as recorded in
// tests/fixtures/torch_reference.safetensors by scripts/make_torch_fixture.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
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

namespace mnistcnn {
namespace {

const char* const kFixture = MNISTCNN_SOURCE_DIR "/tests/fixtures/torch_reference.safetensors";
const char* const kHint = "regenerate with: /usr/bin/python3 scripts/make_torch_fixture.py";

const io::SafetensorsFile& fixture() {
  static const io::SafetensorsFile f = io::read_safetensors(kFixture);
  return f;
}

const Tensor& torch_ref(const std::string& name) {
  const Tensor* t = fixture().find(name);
  if (!t) throw Error("torch reference fixture has no tensor '" + name + "'", kHint);
  return *t;
}

struct Tol {
  double atol, rtol;
};

// Every element within atol + rtol·|expected|; on failure names the tensor and its worst
// element (index, both values, absolute difference). Records the largest differences as
// test properties (visible with --gtest_output=xml).
void expect_close(const std::string& name, std::span<const float> got, const Tensor& want, Tol tol) {
  ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel()) << name << ": element count differs";
  double worst = 0.0, max_abs = 0.0, max_rel = 0.0;
  int64_t at = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got[i], w = want[i], d = std::abs(g - w);
    const double ratio = d / (tol.atol + tol.rtol * std::abs(w));
    if (!(ratio <= worst)) worst = ratio, at = i;  // NaN counts as worst
    max_abs = std::max(max_abs, d);
    if (w != 0.0) max_rel = std::max(max_rel, d / std::abs(w));
  }
  char diffs[64];
  std::snprintf(diffs, sizeof diffs, "max_abs=%.3g max_rel=%.3g", max_abs, max_rel);
  ::testing::Test::RecordProperty(name, diffs);
  char worst_text[200];
  std::snprintf(worst_text, sizeof worst_text,
                "worst element [%lld] is %.9g, PyTorch has %.9g (|diff| %.3g, allowed %.3g + %.3g·|ref|)",
                static_cast<long long>(at), got[at], want[at], std::abs(got[at] - want[at]), tol.atol, tol.rtol);
  EXPECT_LE(worst, 1.0) << name << " " << want.shape().str() << ": " << worst_text << "; " << diffs;
}

void expect_close(const std::string& name, const Tensor& got, const Tensor& want, Tol tol) {
  ASSERT_EQ(got.shape(), want.shape()) << name << ": shape " << got.shape().str() << " vs PyTorch's "
                                       << want.shape().str();
  expect_close(name, got.span(), want, tol);
}

// Gradients: relative, with an absolute floor scaled to the tensor's largest entry so
// near-zero sums (rounding-order noise) do not fail.
Tol grad_tol(const Tensor& want) {
  float peak = 0.0f;
  for (float v : want.span()) peak = std::max(peak, std::abs(v));
  return {1e-6 + 1e-4 * peak, 1e-3};
}

constexpr Tol kLogits{1e-4, 1e-4};
constexpr Tol kLoss{1e-5, 1e-5};
constexpr Tol kParams{1e-4, 1e-4};

std::vector<int32_t> labels(const std::string& tag) {
  const Tensor& y = torch_ref(tag + "/labels");
  std::vector<int32_t> out;
  for (float v : y.span()) out.push_back(static_cast<int32_t>(v));
  return out;
}

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
  ASSERT_TRUE(meta.count("command")) << kHint;
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
