// Training on a real MNIST subset reaches a stated accuracy, the same seed gives
// bit-identical weights, and metrics follow their definitions.
#include "mnistcnn/train/trainer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/nn/registry.h"
#include "mnistcnn/nn/spec.h"
#include "mnistcnn/train/presets.h"
#include "support/mnist_files.h"

namespace mnistcnn {
namespace {

struct TrainedRun {
  std::vector<Tensor> weights;
  train::EvalResult test;
  std::vector<train::EpochResult> history;
};

TrainedRun train_subset(const data::Dataset& tr, const data::Dataset& te, int64_t n_train, uint64_t seed) {
  const auto* p = train::find_preset("keras-mnist");
  nn::Sequential net = nn::Sequential::from_spec(p->spec);
  net.init(p->recipe.init, seed);
  auto opt = train::make_optimizer(p->recipe, net.params());
  std::vector<int64_t> idx(static_cast<size_t>(n_train));
  for (int64_t i = 0; i < n_train; ++i) idx[static_cast<size_t>(i)] = i;
  std::vector<int64_t> test_idx(2000);
  for (int64_t i = 0; i < 2000; ++i) test_idx[static_cast<size_t>(i)] = i;
  const auto norm = data::Normalization::scale();
  data::Loader train_loader(tr, idx, 32, true, seed, norm);
  data::Loader test_loader(te, test_idx, 256, false, seed, norm);
  TrainedRun r;
  r.history = train::fit(net, *opt, train_loader, nullptr, {.epochs = 1});
  r.test = train::evaluate(net, test_loader);
  for (auto* prm : net.params()) r.weights.push_back(prm->value);
  return r;
}

class MnistTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::have_mnist()) return;
    train_ = new data::Dataset(data::load_idx_split(testing::mnist_dir(), data::Split::Train));
    test_ = new data::Dataset(data::load_idx_split(testing::mnist_dir(), data::Split::Test));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }
  static data::Dataset* train_;
  static data::Dataset* test_;
};
data::Dataset* MnistTraining::train_ = nullptr;
data::Dataset* MnistTraining::test_ = nullptr;

TEST_F(MnistTraining, KerasMnistOnSixThousandImagesReachesNinetyPercent) {
  MNISTCNN_REQUIRE_MNIST();
  const TrainedRun r = train_subset(*train_, *test_, 6000, 1);
  EXPECT_GE(r.test.accuracy(), 0.90) << "one epoch on 6,000 images, tested on 2,000";
  EXPECT_EQ(r.test.count(), 2000);
  ASSERT_EQ(r.history.size(), 1u);
  EXPECT_LT(r.history[0].train_loss, 1.0);
  EXPECT_EQ(r.history[0].steps, 188);
}

TEST_F(MnistTraining, SameSeedAndThreadsGiveBitIdenticalWeights) {
  MNISTCNN_REQUIRE_MNIST();
  const TrainedRun a = train_subset(*train_, *test_, 640, 7);
  const TrainedRun b = train_subset(*train_, *test_, 640, 7);
  const TrainedRun c = train_subset(*train_, *test_, 640, 8);
  bool differs = false;
  for (size_t i = 0; i < a.weights.size(); ++i)
    for (int64_t j = 0; j < a.weights[i].numel(); ++j) {
      ASSERT_EQ(a.weights[i][j], b.weights[i][j]) << "tensor " << i << " element " << j;
      differs = differs || a.weights[i][j] != c.weights[i][j];
    }
  EXPECT_TRUE(differs) << "another seed should give other weights";
}

TEST_F(MnistTraining, OneAndTwoThreadsGiveBitIdenticalWeights) {
  MNISTCNN_REQUIRE_MNIST();
  const int before = kernels::num_threads();
  kernels::set_num_threads(1);
  const TrainedRun one = train_subset(*train_, *test_, 640, 3);
  kernels::set_num_threads(2);
  const TrainedRun two = train_subset(*train_, *test_, 640, 3);
  kernels::set_num_threads(before);
  for (size_t i = 0; i < one.weights.size(); ++i)
    for (int64_t j = 0; j < one.weights[i].numel(); ++j)
      ASSERT_EQ(one.weights[i][j], two.weights[i][j]) << "tensor " << i << " element " << j;
}

TEST(Metrics, PrecisionRecallF1ByDefinition) {
  train::ConfusionMatrix cm(3);
  // truth 0: 3 right, 1 called 1; truth 1: 2 right; truth 2: 1 right, 2 called 0.
  for (int i = 0; i < 3; ++i) cm.add(0, 0);
  cm.add(0, 1);
  cm.add(1, 1);
  cm.add(1, 1);
  cm.add(2, 2);
  cm.add(2, 0);
  cm.add(2, 0);
  EXPECT_DOUBLE_EQ(cm.accuracy(), 6.0 / 9.0);
  const auto pc = cm.per_class();
  EXPECT_DOUBLE_EQ(pc[0].precision, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(pc[0].recall, 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(pc[0].f1, 2 * 0.6 * 0.75 / 1.35);
  EXPECT_DOUBLE_EQ(pc[1].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(pc[2].recall, 1.0 / 3.0);
  EXPECT_EQ(pc[2].support, 3);
  EXPECT_NEAR(cm.macro().recall, (0.75 + 1.0 + 1.0 / 3.0) / 3.0, 1e-12);
  EXPECT_NEAR(cm.weighted().recall, cm.accuracy(), 1e-12);  // weighted recall is accuracy
}

// Eight 4x4 images of one grey level, labels alternating.
data::Dataset tiny_dataset() {
  data::Dataset ds;
  ds.rows = ds.cols = 4;
  ds.images.assign(16 * 8, 200);
  ds.labels = {0, 1, 0, 1, 0, 1, 0, 1};
  return ds;
}

// The message of the Error that one epoch of fit throws, "" if none.
std::string fit_error(nn::Sequential& net, optim::Optimizer& opt) {
  const data::Dataset ds = tiny_dataset();
  data::Loader loader(ds, {}, 4, true, 1, data::Normalization::scale());
  try {
    train::fit(net, opt, loader, nullptr, {.epochs = 1});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Trainer, DivergenceIsReportedWithEpochAndStep) {
  nn::Sequential net = nn::Sequential::from_spec("flatten dense(2)", {1, 4, 4});
  net.init(nn::Init::Torch, 1);
  net.params()[0]->value.fill(std::numeric_limits<float>::infinity());
  optim::Sgd opt(net.params(), {.lr = 0.1});
  const std::string error = fit_error(net, opt);
  EXPECT_NE(error.find("the loss"), std::string::npos) << error;
  EXPECT_NE(error.find("epoch 1, step 1"), std::string::npos) << error;
}

// Passes everything through and reports an infinite gradient for one element of its
// parameter: the loss stays finite, so only the gradient check can catch it.
class InfiniteGradient : public nn::Layer {
 public:
  std::string kind() const override { return "infinite-gradient"; }
  std::string spec() const override { return kind(); }
  Shape output_shape(const Shape& in) const override { return in; }
  void build(const Shape&) override {
    p_.name = "0.weight";
    p_.value = Tensor(Shape{40});
    p_.grad = Tensor(Shape{40});
  }
  void forward(const Tensor& x, Tensor& y, nn::Mode) override { y = x; }
  void backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx) override {
    p_.grad.data()[37] = std::numeric_limits<float>::infinity();
    if (dx) *dx = dy;
  }
  std::vector<nn::Param*> params() override { return {&p_}; }

 private:
  nn::Param p_;
};

TEST(Trainer, NonFiniteGradientStopsBeforeTheUpdate) {
  nn::Sequential net;
  net.add(std::make_unique<InfiniteGradient>());
  for (const auto& spec : nn::parse_spec("flatten dense(2)")) net.add(nn::make_layer(spec));
  net.build({1, 4, 4});
  net.init(nn::Init::Torch, 1);
  const Tensor before = net.params()[1]->value;
  optim::Sgd opt(net.params(), {.lr = 0.1});
  const std::string error = fit_error(net, opt);
  EXPECT_NE(error.find("a gradient is not finite at epoch 1, step 1"), std::string::npos) << error;
  EXPECT_EQ(std::memcmp(before.data(), net.params()[1]->value.data(), sizeof(float) * before.numel()), 0)
      << "the dense weights were updated";
}

}  // namespace
}  // namespace mnistcnn
