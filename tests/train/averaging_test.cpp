// EMA of the weights and early stopping: the average computed by hand on a tiny case,
// a run with EMA stopped and resumed from its checkpoint ends bit for bit as the
// uninterrupted one, and early stopping ends where the metric stopped improving with the
// best epoch's weights back, also when resumed from a checkpoint; a target accuracy ends
// the run after the first epoch that reaches it.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "mnistcnn/core/error.h"
#include "mnistcnn/train/averaging.h"
#include "mnistcnn/train/checkpoint.h"
#include "support/run_cli.h"
#include "train/fit_fixture.h"

namespace mnistcnn {
namespace {

TEST(Ema, AveragesParametersAndCopiesBuffers) {
  nn::Sequential net = nn::Sequential::from_spec("conv(1,1) batchnorm", {1, 2, 2});
  const auto params = net.params();
  auto set = [&](float v) {
    for (nn::Param* p : params) p->value.span()[0] = v;
  };
  set(1.0f);
  train::NamedWeights ema;
  train::ema_update(ema, params, 0.9);  // starts as a copy
  set(2.0f);
  train::ema_update(ema, params, 0.9);
  set(4.0f);
  train::ema_update(ema, params, 0.9);
  // By hand: 0.9·1 + 0.1·2 = 1.1, then 0.9·1.1 + 0.1·4 = 1.39; buffers follow the network.
  for (const nn::Param* p : params) {
    const float got = ema.at(p->name).span()[0];
    if (p->buffer)
      EXPECT_EQ(got, 4.0f) << p->name;
    else
      EXPECT_EQ(got, static_cast<float>(0.9 * static_cast<double>(static_cast<float>(0.9 * 1.0 + 0.1 * 2.0)) + 0.1 * 4.0))
          << p->name;
  }
  bool has_buffer = false;
  for (const nn::Param* p : params) has_buffer |= p->buffer;
  EXPECT_TRUE(has_buffer);
}

// Trains `epochs` with `fo`, stopping after `stop_after` steps (0: never); returns the state.
train::TrainState run(TrainingSetup& r, data::Loader& train, data::Loader& val, train::FitOptions fo,
                      int64_t stop_after, train::TrainState state = {},
                      const std::function<void(const train::EpochResult&, const train::TrainState&)>& on_epoch = {}) {
  std::atomic<bool> stop{false};
  fo.schedule = fo.plateau = &r.schedule;
  fo.stop = &stop;
  train::Callbacks cb;
  cb.on_step = [&](const train::TrainState&) {
    if (r.opt->steps() == stop_after) stop = true;
  };
  cb.on_epoch = on_epoch;
  train::fit(r.net, *r.opt, train, &val, fo, cb, state);
  return state;
}

TrainingSetup resumed_setup(train::Checkpoint& ck, const std::string& path, int64_t batches, int epochs) {
  TrainingSetup r = make_run("adam", "constant", batches, epochs);
  r.net = std::move(ck.net);
  train::Recipe recipe;
  recipe.optimizer = "adam";
  r.opt = train::make_optimizer(recipe, r.net.params());
  train::restore_training(ck, r.net, *r.opt, &r.schedule, path);
  return r;
}

// The trainer's decay warms up as min(decay, (1+t)/(10+t)) at step t, so the average
// follows the weights early on instead of holding on to the initial ones.
TEST(Ema, TrainerWarmsTheDecayUp) {
  const data::Dataset data = synthetic_data();
  data::Loader loader(data, {}, 16, true, 11, data::Normalization::scale());
  TrainingSetup r = make_run("adam", "constant", loader.num_batches(), 2);
  nn::Param* w = r.net.params().front();
  float ema = w->value.span()[0];  // the average starts as the initial weights
  int64_t t = 0;
  const double decay = 0.99;
  train::Callbacks cb;
  cb.on_step = [&](const train::TrainState&) {
    ++t;
    const double d = std::min(decay, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
    ema = static_cast<float>(d * static_cast<double>(ema) + (1.0 - d) * static_cast<double>(w->value.span()[0]));
  };
  train::TrainState state;
  train::fit(r.net, *r.opt, loader, nullptr, {.epochs = 2, .ema_decay = decay}, cb, state);
  ASSERT_EQ(t, 2 * loader.num_batches());
  ASSERT_GT(t, 10);  // long enough for the warm-up to matter: (1+t)/(10+t) < 0.99 throughout
  EXPECT_EQ(w->value.span()[0], ema);  // the network ends holding the average
}

// EMA alone, and EMA with early stopping (whose best weights then ride in the checkpoint too).
class EmaResume : public ::testing::TestWithParam<int> {};

TEST_P(EmaResume, StoppedAndResumedRunEndsBitIdentical) {
  const data::Dataset data = synthetic_data();
  const auto norm = data::Normalization::scale();
  data::Loader loader(data, {}, 16, true, 11, norm), val(data, {}, 64, false, 11, norm);
  const int epochs = 3;
  const train::FitOptions fo{
      .epochs = epochs, .early_stop_patience = GetParam(), .monitor = train::Monitor::ValLoss, .ema_decay = 0.9};
  TrainingSetup full = make_run("adam", "constant", loader.num_batches(), epochs);
  const train::TrainState full_state = run(full, loader, val, fo, 0);
  // The network now holds the average, which is not the last step's weights.
  ASSERT_TRUE(full_state.held);
  TrainingSetup plain = make_run("adam", "constant", loader.num_batches(), epochs);
  run(plain, loader, val, {.epochs = epochs}, 0);
  EXPECT_NE(weights(full.net), weights(plain.net));

  const std::string dir = testing::make_temp_dir("ema");
  const std::string path = dir + "/ck.safetensors";
  TrainingSetup first = make_run("adam", "constant", loader.num_batches(), epochs);
  const train::TrainState st = run(first, loader, val, fo, 13);
  ASSERT_TRUE(st.stopped);
  train::save_checkpoint(path, first.net, *first.opt, &first.schedule, st, {}, {});
  // Loaded as a model, the checkpoint gives the network's own weights, not the average.
  io::LoadedModel as_model = io::load_model(path);
  EXPECT_EQ(weights(as_model.net), weights(first.net));
  train::Checkpoint ck = train::load_checkpoint(path);
  ASSERT_TRUE(ck.state.held);
  EXPECT_EQ(ck.state.held->ema.size(), first.net.params().size());
  EXPECT_EQ(ck.state.held->best.size(), GetParam() > 0 ? first.net.params().size() : 0u);
  TrainingSetup second = resumed_setup(ck, path, loader.num_batches(), epochs);
  const train::TrainState end = run(second, loader, val, fo, 0, ck.state);
  EXPECT_EQ(weights(second.net), weights(full.net));
  ASSERT_EQ(end.history.size(), full_state.history.size());
  for (size_t e = 0; e < end.history.size(); ++e) EXPECT_EQ(end.history[e].val_loss, full_state.history[e].val_loss);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Ema, EmaResume, ::testing::Values(0, 1));

TEST(EarlyStopping, StopsAfterPatienceWithTheBestWeightsBackAlsoWhenResumed) {
  // Validation on images the network never trains on: it overfits, val_loss turns up.
  const data::Dataset data = synthetic_data();
  const auto norm = data::Normalization::scale();
  std::vector<int64_t> tr, va;
  for (int64_t i = 0; i < data.size(); ++i) (i < 96 ? tr : va).push_back(i);
  data::Loader loader(data, tr, 16, true, 11, norm), val(data, va, 64, false, 11, norm);
  const int epochs = 40, patience = 3;
  const train::FitOptions fo{.epochs = epochs, .early_stop_patience = patience, .monitor = train::Monitor::ValLoss};
  const std::string dir = testing::make_temp_dir("early");
  TrainingSetup r = make_run("adam", "constant", loader.num_batches(), epochs);
  std::vector<std::vector<float>> after_epoch;
  const train::TrainState st = run(r, loader, val, fo, 0, {}, [&](const train::EpochResult& e, const train::TrainState& s) {
    after_epoch.push_back(weights(r.net));
    train::save_checkpoint(dir + "/e" + std::to_string(e.epoch) + ".safetensors", r.net, *r.opt, &r.schedule, s, {}, {});
  });
  ASSERT_TRUE(st.early_stopped);
  EXPECT_FALSE(st.stopped);
  const int stop = static_cast<int>(st.history.size());
  ASSERT_LT(stop, epochs);
  const int best = st.restored_epoch;
  EXPECT_EQ(stop, best + patience);
  for (int e = 1; e <= stop; ++e) {
    if (e == best) continue;
    EXPECT_GE(st.history[static_cast<size_t>(e - 1)].val_loss, st.history[static_cast<size_t>(best - 1)].val_loss);
  }
  EXPECT_EQ(weights(r.net), after_epoch[static_cast<size_t>(best - 1)]);

  // From the checkpoint of the epoch before the stop: one more epoch, the same end.
  const std::string path = dir + "/e" + std::to_string(stop - 1) + ".safetensors";
  train::Checkpoint ck = train::load_checkpoint(path);
  TrainingSetup second = resumed_setup(ck, path, loader.num_batches(), epochs);
  const train::TrainState end = run(second, loader, val, fo, 0, ck.state);
  EXPECT_TRUE(end.early_stopped);
  EXPECT_EQ(end.restored_epoch, best);
  EXPECT_EQ(static_cast<int>(end.history.size()), stop);
  EXPECT_EQ(weights(second.net), after_epoch[static_cast<size_t>(best - 1)]);
  std::filesystem::remove_all(dir);
}

TEST(EarlyStopping, NeedsValidationAndSaneOptions) {
  const data::Dataset data = synthetic_data();
  data::Loader loader(data, {}, 16, true, 11, data::Normalization::scale());
  TrainingSetup r = make_run("adam", "constant", loader.num_batches(), 1);
  EXPECT_THROW(train::fit(r.net, *r.opt, loader, nullptr, {.epochs = 1, .early_stop_patience = 2}), Error);
  EXPECT_THROW(train::fit(r.net, *r.opt, loader, nullptr, {.epochs = 1, .ema_decay = 1.5}), Error);
  EXPECT_THROW(train::fit(r.net, *r.opt, loader, nullptr, {.epochs = 1, .target_accuracy = 0.9}), Error);
  EXPECT_THROW(train::fit(r.net, *r.opt, loader, &loader, {.epochs = 1, .target_accuracy = 1.5}), Error);
}

TEST(TargetAccuracy, EndsAfterTheFirstEpochThatReachesItAlsoWhenResumed) {
  const data::Dataset data = synthetic_data();
  const auto norm = data::Normalization::scale();
  std::vector<int64_t> tr, va;
  for (int64_t i = 0; i < data.size(); ++i) (i < 96 ? tr : va).push_back(i);
  data::Loader loader(data, tr, 16, true, 11, norm), val(data, va, 64, false, 11, norm);
  const int epochs = 12;
  // The whole run, for the accuracies; then the target is the best of them.
  TrainingSetup full = make_run("adam", "constant", loader.num_batches(), epochs);
  const train::TrainState all = run(full, loader, val, {.epochs = epochs}, 0);
  EXPECT_FALSE(all.reached_target);
  double target = 0;
  for (const auto& e : all.history) target = std::max(target, e.val_accuracy);
  int first = 0;
  while (all.history[static_cast<size_t>(first)].val_accuracy < target) ++first;
  ASSERT_GT(target, 0.0);

  const std::string dir = testing::make_temp_dir("target");
  const train::FitOptions fo{.epochs = epochs, .target_accuracy = target};
  TrainingSetup r = make_run("adam", "constant", loader.num_batches(), epochs);
  std::vector<std::vector<float>> after_epoch;
  const train::TrainState st = run(r, loader, val, fo, 0, {}, [&](const train::EpochResult& e, const train::TrainState& s) {
    after_epoch.push_back(weights(r.net));
    train::save_checkpoint(dir + "/e" + std::to_string(e.epoch) + ".safetensors", r.net, *r.opt, &r.schedule, s, {}, {});
  });
  EXPECT_TRUE(st.reached_target);
  EXPECT_FALSE(st.early_stopped);
  ASSERT_EQ(static_cast<int>(st.history.size()), first + 1);
  EXPECT_GE(st.history.back().val_accuracy, target);
  EXPECT_EQ(weights(r.net), after_epoch.back()) << "the weights of the epoch that reached it";

  // Resumed from that epoch's checkpoint: nothing more to train.
  const std::string path = dir + "/e" + std::to_string(first + 1) + ".safetensors";
  train::Checkpoint ck = train::load_checkpoint(path);
  TrainingSetup second = resumed_setup(ck, path, loader.num_batches(), epochs);
  const train::TrainState end = run(second, loader, val, fo, 0, ck.state);
  EXPECT_TRUE(end.reached_target);
  EXPECT_EQ(end.history.size(), st.history.size());
  EXPECT_EQ(weights(second.net), after_epoch.back());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
