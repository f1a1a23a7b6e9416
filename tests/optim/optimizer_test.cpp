// Optimizer steps against values computed by hand from PyTorch's update rules, and
// frozen parameters that never move.
#include "mnistcnn/optim/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <new>

#include "mnistcnn/kernels/parallel.h"

// Allocations counted on the threads that ask for it (the optimizers' step must make none
// once its state exists: the training loop's hot path). Replaces the global operator new
// for the whole test program; it only counts. Not under AddressSanitizer, whose own
// operator new checks that new pairs with delete and malloc with free.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MNISTCNN_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MNISTCNN_UNDER_ASAN 1
#endif
namespace {
thread_local bool g_count_allocations = false;
thread_local int64_t g_allocations = 0;
}  // namespace
#if !defined(MNISTCNN_UNDER_ASAN)
// GCC 12 takes free() inside a replacement operator delete for a mismatched pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  if (g_count_allocations) ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // !MNISTCNN_UNDER_ASAN

namespace mnistcnn {
namespace {

// Named here: renaming the returned copy (`p.name = "b"`) set off GCC 12's -Wrestrict
// false positive on std::string's assignment in a clean build.
nn::Param scalar_param(float value, float grad, const char* name = "w") {
  nn::Param p{name, Tensor({1}), Tensor({1})};
  p.value[0] = value;
  p.grad[0] = grad;
  return p;
}

TEST(Sgd, PlainStep) {
  auto p = scalar_param(1.0f, 0.5f);
  optim::Sgd opt({&p}, {.lr = 0.1});
  opt.step();
  EXPECT_FLOAT_EQ(p.value[0], 1.0f - 0.1f * 0.5f);
}

TEST(Sgd, MomentumAndWeightDecay) {
  auto p = scalar_param(1.0f, 0.5f);
  optim::Sgd opt({&p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  // step 1: g = 0.5 + 0.01·1 = 0.51; b = g; p = 1 − 0.051 = 0.949
  opt.step();
  EXPECT_NEAR(p.value[0], 0.949, 1e-6);
  // step 2 (same raw grad): g = 0.5 + 0.01·0.949 = 0.50949; b = 0.9·0.51 + 0.50949 = 0.96849
  opt.step();
  EXPECT_NEAR(p.value[0], 0.949 - 0.1 * 0.96849, 1e-6);
}

TEST(Sgd, Nesterov) {
  auto p = scalar_param(1.0f, 1.0f);
  optim::Sgd opt({&p}, {.lr = 0.1, .momentum = 0.5, .nesterov = true});
  opt.step();  // b = 1; update g + μb = 1.5
  EXPECT_NEAR(p.value[0], 1.0 - 0.15, 1e-6);
  opt.step();  // b = 0.5 + 1 = 1.5; update 1 + 0.75 = 1.75
  EXPECT_NEAR(p.value[0], 0.85 - 0.175, 1e-6);
}

// Tensors of 32k+ elements are split between threads and every update runs in SIMD
// lanes: the result must not depend on the thread count, nor differ from the same update
// on a one-element tensor (the loop's scalar remainder).
TEST(Optimizers, LargeTensorsGiveTheSameBitsOnAnyThreadCountAndAsOneElement) {
  using Make = std::function<std::unique_ptr<optim::Optimizer>(std::vector<nn::Param*>)>;
  const std::vector<std::pair<const char*, Make>> makers = {
      {"sgd", [](auto ps) { return std::make_unique<optim::Sgd>(ps, optim::SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true}); }},
      {"adam", [](auto ps) { return std::make_unique<optim::Adam>(ps, optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-3}); }},
      {"adamw", [](auto ps) { return std::make_unique<optim::Adam>(ps, optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .decoupled = true}); }},
  };
  const int64_t n = 40001;
  const auto fill = [](nn::Param& p, int64_t offset, int step) {
    for (int64_t i = 0; i < p.value.numel(); ++i) {
      const auto k = static_cast<float>(i + offset);
      if (step == 0) p.value[i] = std::sin(k) * 0.5f;
      p.grad[i] = std::cos(k * 0.37f + static_cast<float>(step)) * 0.1f;
    }
  };
  for (const auto& [name, make] : makers) {
    std::vector<Tensor> results;
    for (int threads : {1, 2}) {
      kernels::ThreadCountScope scope(threads);
      nn::Param big{"big", Tensor({n}), Tensor({n})};
      auto opt = make({&big});
      for (int step = 0; step < 3; ++step) {
        fill(big, 0, step);
        opt->step();
      }
      results.push_back(big.value);
    }
    EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), sizeof(float) * n), 0) << name << ": 1 vs 2 threads";
    for (int64_t i : {int64_t{0}, int64_t{7}, int64_t{12345}, n - 1}) {
      nn::Param one{"one", Tensor({1}), Tensor({1})};
      auto opt = make({&one});
      for (int step = 0; step < 3; ++step) {
        fill(one, i, step);
        opt->step();
      }
      EXPECT_EQ(std::memcmp(&one.value[0], &results[0][i], sizeof(float)), 0)
          << name << " element " << i << ": " << one.value[0] << " vs " << results[0][i];
    }
  }
}

TEST(Adam, FirstStepsByHand) {
  auto p = scalar_param(1.0f, 0.2f);
  optim::Adam opt({&p}, {.lr = 0.01});
  // Step 1: m̂ = g, v̂ = g², update lr·g/(|g| + eps) ≈ lr.
  opt.step();
  EXPECT_NEAR(p.value[0], 1.0 - 0.01 * 0.2 / (0.2 + 1e-8), 1e-7);
  p.grad[0] = -0.1f;
  opt.step();
  const double m = 0.9 * 0.1 * 0.2 + 0.1 * -0.1, v = 0.999 * 0.001 * 0.04 + 0.001 * 0.01;
  const double mhat = m / (1 - 0.81), vhat = v / (1 - 0.999 * 0.999);
  EXPECT_NEAR(p.value[0], 0.99 - 0.01 * mhat / (std::sqrt(vhat) + 1e-8), 1e-6);
}

TEST(Adam, KerasEpsilonHat) {
  // Keras: p −= lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + eps). Large eps makes the two forms differ.
  auto a = scalar_param(1.0f, 0.2f), b = scalar_param(1.0f, 0.2f);
  optim::Adam torch_form({&a}, {.lr = 0.01, .eps = 0.01});
  optim::Adam keras_form({&b}, {.lr = 0.01, .eps = 0.01, .epsilon_hat = true});
  torch_form.step();
  keras_form.step();
  const double m = 0.1 * 0.2, v = 0.001 * 0.04;
  EXPECT_NEAR(a.value[0], 1.0 - 0.01 * (m / 0.1) / (std::sqrt(v / 0.001) + 0.01), 1e-7);
  EXPECT_NEAR(b.value[0], 1.0 - 0.01 * std::sqrt(0.001) / 0.1 * m / (std::sqrt(v) + 0.01), 1e-7);
}

TEST(Adam, WeightDecayCoupledVersusDecoupled) {
  auto a = scalar_param(2.0f, 0.0f), b = scalar_param(2.0f, 0.0f);
  optim::Adam adam({&a}, {.lr = 0.1, .weight_decay = 0.1});
  optim::Adam adamw({&b}, {.lr = 0.1, .weight_decay = 0.1, .decoupled = true});
  adam.step();
  adamw.step();
  // Adam: g = wd·p = 0.2, step ≈ lr. AdamW: p·(1 − lr·wd) = 1.98, then zero gradient moves nothing.
  EXPECT_NEAR(a.value[0], 2.0 - 0.1, 1e-6);
  EXPECT_NEAR(b.value[0], 1.98, 1e-6);
  EXPECT_EQ(adamw.name(), "adamw");
}

// A step allocates nothing once every state tensor exists (SGD with momentum, Adam,
// AdamW; a tensor large enough for the threads to share it, and a small one).
TEST(Optimizers, AStepAllocatesNothingOnceWarm) {
#if defined(MNISTCNN_UNDER_ASAN)
  GTEST_SKIP() << "operator new is AddressSanitizer's here";
#endif
  nn::Param big{"0.weight", Tensor({300, 400}), Tensor({300, 400})}, small = scalar_param(1.0f, 0.5f, "0.bias");
  big.grad.fill(0.25f);
  std::vector<std::unique_ptr<optim::Optimizer>> optimizers;
  optimizers.push_back(std::make_unique<optim::Sgd>(std::vector<nn::Param*>{&big, &small},
                                                    optim::SgdOptions{.lr = 0.1, .momentum = 0.9}));
  optimizers.push_back(std::make_unique<optim::Adam>(std::vector<nn::Param*>{&big, &small}, optim::AdamOptions{}));
  optimizers.push_back(
      std::make_unique<optim::Adam>(std::vector<nn::Param*>{&big, &small}, optim::AdamOptions{.decoupled = true}));
  for (auto& opt : optimizers) {
    opt->step();  // creates the state
    g_allocations = 0;
    g_count_allocations = true;
    for (int i = 0; i < 3; ++i) opt->step();
    g_count_allocations = false;
    EXPECT_EQ(g_allocations, 0) << opt->name();
  }
}

TEST(Optimizers, FrozenParametersNeverMove) {
  auto p = scalar_param(1.0f, 0.5f);
  p.trainable = false;
  optim::Sgd sgd({&p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  optim::Adam adam({&p}, {.lr = 0.1, .weight_decay = 0.1, .decoupled = true});
  for (int i = 0; i < 3; ++i) {
    sgd.step();
    adam.step();
  }
  EXPECT_EQ(p.value[0], 1.0f);
}

TEST(Optimizers, BuffersNeverMoveEvenWhenMarkedTrainable) {
  auto p = scalar_param(1.0f, 0.5f);
  p.buffer = true;  // e.g. batch norm's running_var after an "unfreeze all"
  optim::Sgd sgd({&p}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  optim::Adam adam({&p}, {.lr = 0.1, .weight_decay = 0.1, .decoupled = true});
  for (int i = 0; i < 3; ++i) {
    sgd.step();
    adam.step();
  }
  EXPECT_EQ(p.value[0], 1.0f);
  EXPECT_TRUE(adam.state().empty());
}

TEST(Optimizers, StateIsKeyedByParameterName) {
  auto p = scalar_param(1.0f, 0.5f);
  optim::Adam adam({&p}, {});
  adam.step();
  EXPECT_TRUE(adam.state().count("w/exp_avg"));
  EXPECT_TRUE(adam.state().count("w/exp_avg_sq"));
  EXPECT_EQ(adam.steps(), 1);
}

TEST(Adam, ALateUnfrozenParameterStartsItsOwnBiasCorrection) {
  // PyTorch keeps a step count per parameter: one trainable only from step 3 on gets the
  // update of a fresh Adam, lr·g/(|g| + eps) ≈ lr, not one scaled by the global step.
  auto a = scalar_param(1.0f, 0.5f);
  auto b = scalar_param(1.0f, 0.5f, "b");
  b.trainable = false;
  optim::Adam opt({&a, &b}, {.lr = 0.01});
  opt.step();
  opt.step();
  EXPECT_EQ(b.value[0], 1.0f);
  b.trainable = true;
  opt.step();
  EXPECT_NEAR(b.value[0], 1.0f - 0.01f, 1e-6);
  EXPECT_EQ(opt.param_steps().at("w"), 3);
  EXPECT_EQ(opt.param_steps().at("b"), 1);
}

TEST(Optimizer, LearningRateMultipliersScaleEachParametersStep) {
  for (const bool adam : {false, true}) {
    auto a = scalar_param(1.0f, 0.5f);
    auto b = scalar_param(1.0f, 0.5f, "b");
    std::unique_ptr<optim::Optimizer> opt;
    if (adam)
      opt = std::make_unique<optim::Adam>(std::vector<nn::Param*>{&a, &b}, optim::AdamOptions{.lr = 0.01});
    else
      opt = std::make_unique<optim::Sgd>(std::vector<nn::Param*>{&a, &b}, optim::SgdOptions{.lr = 0.01});
    opt->set_lr_multipliers({{"b", 0.1}});
    opt->step();
    EXPECT_NEAR(1.0f - b.value[0], 0.1f * (1.0f - a.value[0]), 1e-7) << (adam ? "adam" : "sgd");
    EXPECT_GT(1.0f - a.value[0], 0.0f);
  }
}

}  // namespace
}  // namespace mnistcnn
