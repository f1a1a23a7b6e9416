// Checkpoints: a run stopped after any step and resumed from its checkpoint ends with
// bit-identical weights; damaged or mismatched checkpoints are refused; the directory
// keeps the last K and the best; divergence stops or skips; frozen layers never move.
#include "mnistcnn/train/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/file.h"
#include "mnistcnn/nn/registry.h"
#include "mnistcnn/nn/select.h"
#include "mnistcnn/nn/spec.h"
#include "mnistcnn/train/presets.h"
#include "support/run_cli.h"
#include "train/fit_fixture.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;

class Resume : public ::testing::TestWithParam<std::tuple<std::string, std::string, int64_t>> {};

TEST_P(Resume, StoppedAfterAnyStepAndResumedGivesTheSameWeights) {
  const auto& [optimizer, schedule, stop_after] = GetParam();
  const data::Dataset data = synthetic_data();
  const auto norm = data::Normalization::scale();
  const int epochs = 3;
  data::Loader loader(data, {}, 16, true, 11, norm);
  data::Loader val(data, {}, 64, false, 11, norm);

  TrainingSetup full = make_run(optimizer, schedule, loader.num_batches(), epochs);
  train::FitOptions fo{.epochs = epochs, .schedule = &full.schedule, .plateau = &full.schedule};
  train::fit(full.net, *full.opt, loader, &val, fo);

  // The same run, stopped after `stop_after` steps, checkpointed, and continued in a fresh
  // network and optimizer from the file alone.
  const std::string dir = testing::make_temp_dir("resume");
  const std::string path = dir + "/ck.safetensors";
  TrainingSetup first = make_run(optimizer, schedule, loader.num_batches(), epochs);
  std::atomic<bool> stop{false};
  train::FitOptions fo1{.epochs = epochs, .schedule = &first.schedule, .plateau = &first.schedule, .stop = &stop};
  train::Callbacks cb;
  cb.on_step = [&](const train::TrainState&) {
    if (first.opt->steps() == stop_after) stop = true;
  };
  train::TrainState state;
  train::fit(first.net, *first.opt, loader, &val, fo1, cb, state);
  ASSERT_TRUE(state.stopped);
  train::save_checkpoint(path, first.net, *first.opt, &first.schedule, state, {}, {{"seed", "11"}});

  train::Checkpoint ck = train::load_checkpoint(path);
  EXPECT_EQ(ck.run.at("seed"), "11");
  TrainingSetup second = make_run(optimizer, schedule, loader.num_batches(), epochs);
  second.net = std::move(ck.net);
  train::Recipe recipe;
  recipe.optimizer = optimizer;
  recipe.lr = 1.0;  // replaced by the schedule's rate at every step
  recipe.momentum = optimizer == "sgd" ? 0.9 : 0.0;
  second.opt = train::make_optimizer(recipe, second.net.params());
  train::restore_training(ck, second.net, *second.opt, &second.schedule, path);
  train::FitOptions fo2{.epochs = epochs, .schedule = &second.schedule, .plateau = &second.schedule};
  train::TrainState resumed = ck.state;
  train::fit(second.net, *second.opt, loader, &val, fo2, {}, resumed);

  EXPECT_EQ(weights(full.net), weights(second.net));
  ASSERT_EQ(resumed.history.size(), 3u);
  EXPECT_EQ(resumed.history.back().steps, full.opt->steps());
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Checkpoint, Resume,
                         ::testing::Values(std::make_tuple("adam", "constant", 4),      // mid-epoch 1
                                           std::make_tuple("adam", "cosine(warmup=1)", 10),  // end of epoch 1
                                           std::make_tuple("sgd", "onecycle", 17),      // mid-epoch 2
                                           std::make_tuple("sgd", "plateau(patience=0, factor=0.5)", 25)));

TEST(Checkpoint, RefusesDamageAndOtherOptimizers) {
  const std::string dir = testing::make_temp_dir("ckbad");
  TrainingSetup r = make_run("adam", "constant", 10, 1);
  train::TrainState st;
  st.epoch = 1;
  const std::string path = dir + "/ck.safetensors";
  train::save_checkpoint(path, r.net, *r.opt, &r.schedule, st, {}, {});
  // A checkpoint is also a model file: eval and predict can use it.
  EXPECT_EQ(io::load_model(path).net.spec(), r.net.spec());
  train::Checkpoint ck = train::load_checkpoint(path);
  TrainingSetup sgd = make_run("sgd", "constant", 10, 1);
  EXPECT_THROW(train::restore_training(ck, sgd.net, *sgd.opt, nullptr, path), Error);
  // A plain model file has no training state.
  io::save_model(dir + "/model.safetensors", r.net, {});
  try {
    train::load_checkpoint(dir + "/model.safetensors");
    ADD_FAILURE() << "a model file loaded as a checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a checkpoint"), std::string::npos) << e.what();
  }
  // Truncated anywhere: an Error naming the file, never a crash.
  const auto bytes = io::read_file_bytes(path);
  for (size_t cut : {size_t{0}, size_t{7}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    io::write_file_atomic(dir + "/cut.safetensors", {bytes.data(), cut});
    try {
      train::load_checkpoint(dir + "/cut.safetensors");
      ADD_FAILURE() << "truncated at " << cut << " loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.safetensors"), std::string::npos) << e.what();
    }
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, DirectoryKeepsTheLastKAndTheBest) {
  const std::string dir = testing::make_temp_dir("ckdir");
  TrainingSetup r = make_run("adam", "constant", 10, 1);
  train::CheckpointDir ckdir(dir, 2);
  train::TrainState st;
  const double val_acc[] = {0.5, 0.7, 0.6};
  for (int e = 0; e < 3; ++e) {
    r.opt->set_steps(10 * (e + 1));
    st.epoch = e + 1;
    train::EpochResult res;
    res.epoch = e + 1;
    res.has_val = true;
    res.val_accuracy = val_acc[e];
    st.history.push_back(res);
    ckdir.write(r.net, *r.opt, nullptr, st, {}, {});
    const bool best = ckdir.write_best_if_improved(r.net, *r.opt, nullptr, st, {}, {});
    EXPECT_EQ(best, e < 2) << e;
  }
  EXPECT_FALSE(fs::exists(dir + "/ckpt-e0001-s00000010.safetensors"));
  EXPECT_TRUE(fs::exists(dir + "/ckpt-e0002-s00000020.safetensors"));
  EXPECT_TRUE(fs::exists(dir + "/ckpt-e0003-s00000030.safetensors"));
  EXPECT_EQ(train::load_checkpoint(dir + "/best.safetensors").state.epoch, 2);
  // The newest file damaged (as by a crash of something else): the newest loadable one wins.
  { std::ofstream(dir + "/ckpt-e0004-s00000040.safetensors") << "garbage"; }
  EXPECT_EQ(train::latest_checkpoint(dir), dir + "/ckpt-e0003-s00000030.safetensors");
  fs::remove_all(dir);
}

// Passes its input through, but writes a NaN into it at its `at`-th training forward.
class NanAt : public nn::Layer {
 public:
  explicit NanAt(int at) : at_(at) {}
  std::string kind() const override { return "nan_at"; }
  std::string spec() const override { return "nan_at"; }
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, nn::Mode mode) override {
    y = x;
    if (mode == nn::Mode::Train && ++calls_ == at_) y[0] = std::nanf("");
  }
  void backward(const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx) override {
    if (dx) *dx = dy;
  }

 private:
  int at_, calls_ = 0;
};

TEST(Divergence, StopNamesTheStepAndSkipDropsTheBatch) {
  const data::Dataset data = synthetic_data();
  data::Loader loader(data, {}, 16, true, 1, data::Normalization::scale());
  for (const auto on_nan : {train::OnNan::Stop, train::OnNan::Skip}) {
    nn::Sequential net;
    net.add(std::make_unique<NanAt>(4));
    for (const auto& l : nn::parse_spec("flatten dense(10)")) net.add(nn::make_layer(l));
    net.build({1, 12, 12});
    net.init(nn::Init::Torch, 1);
    optim::Adam opt(net.params(), {});
    train::TrainState st;
    if (on_nan == train::OnNan::Stop) {
      try {
        train::fit(net, opt, loader, nullptr, {.epochs = 1}, {}, st);
        ADD_FAILURE() << "a NaN loss did not stop training";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("epoch 1, step 4"), std::string::npos) << e.what();
      }
      EXPECT_EQ(opt.steps(), 3);  // the weights are those after the last good step
    } else {
      train::fit(net, opt, loader, nullptr, {.epochs = 1, .on_nan = train::OnNan::Skip}, {}, st);
      EXPECT_EQ(st.history.at(0).skipped, 1);
      EXPECT_EQ(opt.steps(), loader.num_batches() - 1);
    }
    for (float w : weights(net)) ASSERT_TRUE(std::isfinite(w));
  }
}

TEST(Freezing, FrozenLayersNeverMoveAndGetNoGradient) {
  const data::Dataset data = synthetic_data();
  data::Loader loader(data, {}, 16, true, 1, data::Normalization::scale());
  TrainingSetup r = make_run("adam", "constant", loader.num_batches(), 2);
  nn::set_trainable(r.net, nn::select_layers(r.net, "features"), false);
  std::vector<Tensor> before;
  for (nn::Param* p : r.net.params()) before.push_back(p->value);
  train::fit(r.net, *r.opt, loader, nullptr, {.epochs = 2});
  const auto params = r.net.params();
  for (size_t i = 0; i < params.size(); ++i) {
    const bool frozen = !params[i]->trainable;
    EXPECT_EQ(frozen, params[i]->name[0] == '0') << params[i]->name;
    bool same = true, zero_grad = true;
    for (int64_t k = 0; k < params[i]->value.numel(); ++k) {
      same = same && params[i]->value[k] == before[i][k];
      zero_grad = zero_grad && params[i]->grad[k] == 0.0f;
    }
    EXPECT_EQ(same, frozen) << params[i]->name;
    if (frozen) {
      EXPECT_TRUE(zero_grad) << params[i]->name << " got a gradient";
      EXPECT_FALSE(r.opt->state().count(params[i]->name + "/exp_avg")) << params[i]->name;
    }
  }
}

}  // namespace
}  // namespace mnistcnn
