// Issue 7 through the real program: --early-stop ends the run and saves the best epoch's
// weights, --stop-at ends it at a target accuracy, --ema saves the average, and `ensemble` averages the members' probabilities
// (checked against the library call) and refuses models of other classes; eval and ensemble judge held-out
// training images with the training run's --val-split or --val-fold; --tta averages five shifted views.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/explain/plots.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/train/ensemble.h"
#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

std::string lenet(const std::string& out, int seed, const std::string& extra = "") {
  return "train --preset lenet --data " + testing::mnist_dir() + " --limit 2000 --batch-size 50 --epochs 1 --seed " +
         std::to_string(seed) + " --threads 2 -q " + extra + " --out " + out;
}

TEST(EarlyStopCli, SavesTheBestEpochsWeights) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("early_cli");
  // On 1,000 images at this rate validation loss turns up within a few epochs (at epoch
  // 4 when this was written); patience 1 stops there.
  const auto r = run_cli("train --preset lenet --data " + testing::mnist_dir() +
                         " --limit 1000 --val-split 0.2 --batch-size 50 --epochs 12 --lr 0.01 --seed 3 --threads 2 "
                         "--early-stop 1 --monitor val_loss --json --keep-last 0 --checkpoint-dir " + dir +
                         "/ck --out " + dir + "/m.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& epochs = j.at("epochs");
  int best = 1;
  for (int e = 1; e <= static_cast<int>(epochs.size()); ++e)
    if (epochs[e - 1].at("val_loss").get<double>() < epochs[best - 1].at("val_loss").get<double>()) best = e;
  EXPECT_EQ(j.at("restored_epoch").get<int>(), best);
  EXPECT_TRUE(j.at("early_stopped").get<bool>());
  EXPECT_EQ(static_cast<int>(epochs.size()), best + 1);
  EXPECT_NE(r.err.find("restored the weights of epoch " + std::to_string(best)), std::string::npos) << r.err;
  // The model file holds the weights of the end of that epoch: 800 images, 16 steps each.
  char name[64];
  std::snprintf(name, sizeof name, "/ck/ckpt-e%04d-s%08d.safetensors", best, best * 16);
  EXPECT_EQ(testing::weights_digest(dir + "/m.safetensors"), testing::weights_digest(dir + name));

  const auto no_val = run_cli(lenet(dir + "/x.safetensors", 1, "--no-val --early-stop 2"));
  EXPECT_EQ(no_val.exit_code, 1);
  EXPECT_NE(no_val.err.find("--early-stop"), std::string::npos) << no_val.err;
  fs::remove_all(dir);
}

// --stop-at ends the run after the first epoch whose validation accuracy reaches it and
// reports when, in seconds since the program started.
TEST(StopAtCli, EndsAtTheFirstEpochThatReachesTheTarget) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("stop_at_cli");
  const auto r = run_cli("train --preset lenet --data " + testing::mnist_dir() +
                         " --limit 2000 --batch-size 50 --epochs 6 --lr 0.05 --seed 1 --threads 2 --val-split 0.2 "
                         "--stop-at 0.5 --json --out " + dir + "/m.safetensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& epochs = j.at("epochs");
  ASSERT_TRUE(j.at("reached_target").get<bool>());
  EXPECT_LT(epochs.size(), 6u);
  EXPECT_GE(epochs.back().at("val_accuracy").get<double>(), 0.5);
  for (size_t e = 0; e + 1 < epochs.size(); ++e) EXPECT_LT(epochs[e].at("val_accuracy").get<double>(), 0.5);
  double sum = 0;
  for (const auto& e : epochs) sum += e.at("epoch_seconds").get<double>() + e.at("eval_seconds").get<double>();
  EXPECT_GT(j.at("target_seconds").get<double>(), sum) << "program start comes before the first epoch";
  EXPECT_NE(r.err.find("target reached: validation accuracy"), std::string::npos) << r.err;

  const auto no_val = run_cli(lenet(dir + "/x.safetensors", 1, "--no-val --stop-at 0.9"));
  EXPECT_EQ(no_val.exit_code, 1);
  EXPECT_NE(no_val.err.find("--stop-at"), std::string::npos) << no_val.err;
  const auto bad = run_cli(lenet(dir + "/x.safetensors", 1, "--stop-at 1.5"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--stop-at"), std::string::npos) << bad.err;

  // The fast99 preset brings its target (99%); --stop-at 0 turns it off.
  const std::string fast = "train --preset fast99 --data " + testing::mnist_dir() +
                           " --limit 600 --epochs 1 --threads 2 -q --json --out " + dir + "/f.safetensors";
  const auto f99 = run_cli(fast);
  ASSERT_EQ(f99.exit_code, 0) << f99.err;
  const auto jf = nlohmann::json::parse(f99.out);
  EXPECT_DOUBLE_EQ(jf.at("stop_at").get<double>(), 0.99);
  EXPECT_FALSE(jf.at("reached_target").get<bool>()) << "600 images cannot give 99%";
  const auto off = run_cli(fast + " --stop-at 0");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_FALSE(nlohmann::json::parse(off.out).contains("stop_at"));
  fs::remove_all(dir);
}

TEST(EmaCli, SavesTheAverageAndRefusesABadDecay) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("ema_cli");
  const auto bad = run_cli(lenet(dir + "/x.safetensors", 1, "--ema 1.5"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--ema"), std::string::npos) << bad.err;
  const auto plain = run_cli(lenet(dir + "/plain.safetensors", 1));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  auto ema = lenet(dir + "/ema.safetensors", 1, "--ema 0.99");
  ema.replace(ema.find(" -q"), 3, "");
  const auto r = run_cli(ema);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("EMA of the weights (decay 0.99)"), std::string::npos) << r.err;
  EXPECT_NE(testing::weights_digest(dir + "/ema.safetensors"), testing::weights_digest(dir + "/plain.safetensors"));
  fs::remove_all(dir);
}

TEST(EnsembleCli, AveragesTheMembersProbabilities) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("ensemble_cli");
  const std::string a = dir + "/a.safetensors", b = dir + "/b.safetensors";
  ASSERT_EQ(run_cli(lenet(a, 1)).exit_code, 0);
  ASSERT_EQ(run_cli(lenet(b, 2)).exit_code, 0);

  // The library: the ensemble's probabilities are the mean of the members'.
  io::LoadedModel ma = io::load_model(a), mb = io::load_model(b);
  data::Dataset test = data::load_idx_split(testing::mnist_dir(), data::Split::Test);
  data::Loader la(test, {}, 256, false, 0, ma.info.normalization), lb(test, {}, 256, false, 0, mb.info.normalization);
  const Tensor pa = train::predict_probabilities(ma.net, la), pb = train::predict_probabilities(mb.net, lb);
  const train::EnsembleResult er = train::evaluate_ensemble({{&ma.net, &la, {}}, {&mb.net, &lb, {}}});
  ASSERT_EQ(er.probabilities.shape(), pa.shape());
  for (int64_t i = 0; i < pa.numel(); ++i)
    ASSERT_EQ(er.probabilities.data()[i],
              static_cast<float>((static_cast<double>(pa.data()[i]) + static_cast<double>(pb.data()[i])) / 2.0)) << i;
  EXPECT_EQ(er.members[0].accuracy(), train::evaluate(ma.net, la).accuracy());

  const auto r = run_cli("ensemble --model " + a + " --model " + b + " --data " + testing::mnist_dir() +
                         " --json --threads 2 --out " + dir + "/e.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("accuracy").get<double>(), er.ensemble.accuracy());
  EXPECT_EQ(j.at("count").get<int64_t>(), 10000);
  EXPECT_EQ(j.at("per_class").size(), 10u);
  ASSERT_EQ(j.at("members").size(), 2u);
  // Every wrong prediction by image, for the ensemble and for each member.
  const auto check_misclassified = [&](const nlohmann::json& list, const train::EvalResult& want) {
    ASSERT_GT(list.size(), 0u);
    size_t at = 0;
    for (size_t i = 0; i < want.predictions.size(); ++i) {
      if (want.predictions[i] == test.labels[i]) continue;
      ASSERT_LT(at, list.size());
      EXPECT_EQ(list[at].at("index").get<size_t>(), i);
      EXPECT_EQ(list[at].at("source_index").get<size_t>(), i) << "the whole test set: its own numbering";
      EXPECT_EQ(list[at].at("label").get<std::string>(), std::to_string(test.labels[i]));
      EXPECT_EQ(list[at].at("predicted").get<std::string>(), std::to_string(want.predictions[i]));
      ++at;
    }
    EXPECT_EQ(at, list.size());
  };
  check_misclassified(j.at("misclassified"), er.ensemble);
  check_misclassified(j.at("members")[1].at("misclassified"), er.members[1]);
  for (int m = 0; m < 2; ++m) {
    const auto ev = run_cli("eval --json --threads 2 --model " + std::string(m ? b : a) + " --data " + testing::mnist_dir());
    ASSERT_EQ(ev.exit_code, 0) << ev.err;
    EXPECT_EQ(j.at("members")[m].at("accuracy"), nlohmann::json::parse(ev.out).at("accuracy"));
    EXPECT_EQ(j.at("members")[m].at("misclassified"), nlohmann::json::parse(ev.out).at("misclassified"));
  }
  std::ifstream f(dir + "/e.json");
  EXPECT_EQ(nlohmann::json::parse(f), j);
  const auto text = run_cli("ensemble --model " + a + " --model " + b + " --data " + testing::mnist_dir());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("ensemble of 2 (mean softmax): accuracy:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("member 2: " + b), std::string::npos) << text.out;

  const std::string c = dir + "/c.safetensors";
  ASSERT_EQ(run_cli(lenet(c, 3, "--classes 0-4")).exit_code, 0);
  // With --classes the judged images are a selection: source_index names each in the test file.
  const auto part = run_cli("eval --json --threads 2 --model " + c + " --classes 0-4 --data " + testing::mnist_dir());
  ASSERT_EQ(part.exit_code, 0) << part.err;
  const auto pj = nlohmann::json::parse(part.out);
  EXPECT_EQ(pj.at("count").get<int64_t>(), std::count_if(test.labels.begin(), test.labels.end(), [](uint8_t l) { return l < 5; }));
  ASSERT_GT(pj.at("misclassified").size(), 0u);
  int64_t previous = -1;
  for (const auto& w : pj.at("misclassified")) {
    const auto s = w.at("source_index").get<int64_t>();
    ASSERT_TRUE(s >= 0 && s < test.size()) << w.dump();
    EXPECT_GT(s, previous);
    EXPECT_GE(s, w.at("index").get<int64_t>());
    EXPECT_EQ(std::to_string(test.labels[static_cast<size_t>(s)]), w.at("label").get<std::string>()) << w.dump();
    previous = s;
  }
  const auto other = run_cli("ensemble --model " + a + " --model " + c + " --data " + testing::mnist_dir());
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("differ"), std::string::npos) << other.err;
  const auto one = run_cli("ensemble --model " + a + " --data " + testing::mnist_dir());
  EXPECT_EQ(one.exit_code, 1);
  fs::remove_all(dir);
}

// eval and ensemble with --val-split / --val-fold judge the training images that a run with
// the same flags held out: the figures equal the run's own last validation, and the test
// set is neither reported on nor read.
TEST(HeldOutEvalCli, JudgesTheImagesTheTrainingRunHeldOut) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("held_out_cli");
  const std::string data = " --data " + testing::mnist_dir() + " --threads 2 --json";
  struct Case {
    std::string train_flags, eval_flags;
  };
  const Case cases[] = {{"--val-split 0.2 --seed 3", "--val-split 0.2 --seed 3 --limit 2000"},
                        {"--val-fold 2/5 --fold-seed 7 --seed 3", "--val-fold 2/5 --fold-seed 7 --seed 3 --limit 2000"}};
  std::vector<std::string> models;
  for (const auto& c : cases) {
    const std::string model = dir + "/m" + std::to_string(models.size()) + ".safetensors";
    const auto t = run_cli("train --preset lenet --limit 2000 --batch-size 50 --epochs 1 --optimizer adam --lr 0.003 -q " +
                           c.train_flags + data + " --out " + model);
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const auto last = nlohmann::json::parse(t.out).at("epochs").back();
    const auto e = run_cli("eval --model " + model + " " + c.eval_flags + data);
    ASSERT_EQ(e.exit_code, 0) << e.err;
    const auto j = nlohmann::json::parse(e.out);
    EXPECT_EQ(j.at("count").get<int64_t>(), 400) << c.eval_flags;
    EXPECT_EQ(j.at("images").get<std::string>(), "held-out training images");
    EXPECT_EQ(j.at("accuracy").get<double>(), last.at("val_accuracy").get<double>()) << c.eval_flags;
    EXPECT_NEAR(j.at("loss").get<double>(), last.at("val_loss").get<double>(), 1e-6) << c.eval_flags;
    EXPECT_GT(j.at("accuracy").get<double>(), 0.5);  // a trained model, not chance
    models.push_back(model);
  }
  // Each misclassified held-out image is named by its number in the training file.
  const data::Dataset train_set = data::load_idx_split(testing::mnist_dir(), data::Split::Train);
  const auto held = nlohmann::json::parse(run_cli("eval --model " + models[0] + " " + cases[0].eval_flags + data).out);
  ASSERT_GT(held.at("misclassified").size(), 0u);
  std::set<int64_t> named;
  for (const auto& w : held.at("misclassified")) {
    const auto s = w.at("source_index").get<int64_t>();
    ASSERT_TRUE(s >= 0 && s < train_set.size()) << w.dump();
    EXPECT_EQ(std::to_string(train_set.labels[static_cast<size_t>(s)]), w.at("label").get<std::string>()) << w.dump();
    named.insert(s);
  }
  EXPECT_EQ(named.size(), held.at("misclassified").size());
  // Another seed holds out other images (here they differ in accuracy or loss).
  const auto other = run_cli("eval --model " + models[0] + " --val-split 0.2 --seed 4 --limit 2000" + data);
  ASSERT_EQ(other.exit_code, 0) << other.err;
  const auto first = run_cli("eval --model " + models[0] + " " + cases[0].eval_flags + data);
  EXPECT_NE(nlohmann::json::parse(other.out).at("loss"), nlohmann::json::parse(first.out).at("loss"));

  // The ensemble on the same held-out images: each member's figures are eval's.
  const auto en = run_cli("ensemble --model " + models[0] + " --model " + models[1] + " " + cases[0].eval_flags + data);
  ASSERT_EQ(en.exit_code, 0) << en.err;
  const auto ej = nlohmann::json::parse(en.out);
  EXPECT_EQ(ej.at("count").get<int64_t>(), 400);
  EXPECT_EQ(ej.at("images").get<std::string>(), "held-out training images");
  EXPECT_EQ(ej.at("members")[0].at("accuracy"), nlohmann::json::parse(first.out).at("accuracy"));
  const auto text = run_cli("eval --model " + models[0] + " " + cases[0].eval_flags + " --data " + testing::mnist_dir());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("(400 held-out training images)"), std::string::npos) << text.out;
  EXPECT_NE(text.err.find("(the test set is not used)"), std::string::npos) << text.err;

  // Neither selection reads the test files: a directory with only the training files serves
  // eval with the split, and train with --no-test; without a split eval needs them.
  const std::string train_only = dir + "/train-only";
  fs::create_directories(train_only);
  for (const auto& entry : fs::directory_iterator(testing::mnist_dir()))
    if (entry.path().filename().string().rfind("train-", 0) == 0)
      fs::create_symlink(entry.path(), train_only / entry.path().filename());
  const auto no_test = run_cli("eval --model " + models[0] + " " + cases[0].eval_flags + " --data " + train_only + " --json");
  ASSERT_EQ(no_test.exit_code, 0) << no_test.err;
  EXPECT_EQ(nlohmann::json::parse(no_test.out).at("accuracy"), nlohmann::json::parse(first.out).at("accuracy"));
  const auto needs_test = run_cli("eval --model " + models[0] + " --data " + train_only);
  EXPECT_EQ(needs_test.exit_code, 1);
  EXPECT_NE(needs_test.err.find("t10k"), std::string::npos) << needs_test.err;
  const auto t = run_cli("train --preset lenet --limit 500 --batch-size 50 --epochs 1 --val-split 0.2 --no-test --data " +
                         train_only + " --threads 2 --out " + dir + "/t.safetensors");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.err.find("(test files not read)"), std::string::npos) << t.err;

  // --limit without a split names the problem; so does a split that leaves nothing to train on.
  const auto limit = run_cli("eval --model " + models[0] + " --limit 2000" + data);
  EXPECT_EQ(limit.exit_code, 1);
  EXPECT_NE(limit.err.find("--limit"), std::string::npos) << limit.err;
  const auto both = run_cli("eval --model " + models[0] + " --val-split 0.2 --val-fold 1/5" + data);
  EXPECT_NE(both.exit_code, 0);
  const auto bad_fold = run_cli("ensemble --model " + models[0] + " --model " + models[1] + " --val-fold 6/5" + data);
  EXPECT_EQ(bad_fold.exit_code, 1);
  EXPECT_NE(bad_fold.err.find("--val-fold"), std::string::npos) << bad_fold.err;
  fs::remove_all(dir);
}

// --tta: a model's probabilities are the mean over the image and its four 1-pixel shifts,
// in eval and as an ensemble member; the library's views give the same figures.
TEST(TtaCli, AveragesTheFiveViews) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("tta_cli");
  const std::string a = dir + "/a.safetensors", b = dir + "/b.safetensors";
  ASSERT_EQ(run_cli(lenet(a, 1)).exit_code, 0);
  ASSERT_EQ(run_cli(lenet(b, 2)).exit_code, 0);

  io::LoadedModel ma = io::load_model(a);
  const data::Dataset test = data::load_idx_split(testing::mnist_dir(), data::Split::Test);
  std::vector<std::unique_ptr<data::Loader>> views;
  std::vector<Tensor> probabilities;
  for (const auto& [dx, dy] : train::tta_shifts()) {
    views.push_back(std::make_unique<data::Loader>(test, std::vector<int64_t>{}, 256, false, 0, ma.info.normalization));
    views.back()->set_shift(dx, dy);
    probabilities.push_back(train::predict_probabilities(ma.net, *views.back()));
  }
  ASSERT_EQ(views.size(), 5u);
  EXPECT_NE(probabilities[1].data()[0], probabilities[0].data()[0]);  // the views differ
  train::EnsembleMember member{&ma.net, views[0].get(), {views[1].get(), views[2].get(), views[3].get(), views[4].get()}};
  const train::EnsembleResult er = train::evaluate_ensemble({member});
  for (int64_t i = 0; i < er.probabilities.numel(); ++i) {
    double sum = 0;
    for (const auto& p : probabilities) sum += p.data()[i];
    ASSERT_EQ(er.probabilities.data()[i], static_cast<float>(sum / 5.0)) << i;
  }
  EXPECT_EQ(er.members[0].accuracy(), er.ensemble.accuracy());

  const auto ev = run_cli("eval --tta --json --threads 2 --model " + a + " --data " + testing::mnist_dir());
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  const auto ej = nlohmann::json::parse(ev.out);
  EXPECT_TRUE(ej.at("tta").get<bool>());
  EXPECT_EQ(ej.at("accuracy").get<double>(), er.ensemble.accuracy());
  EXPECT_NEAR(ej.at("loss").get<double>(), er.ensemble.loss, 1e-12);
  const auto plain = run_cli("eval --json --threads 2 --model " + a + " --data " + testing::mnist_dir());
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_FALSE(nlohmann::json::parse(plain.out).at("tta").get<bool>());
  EXPECT_NE(nlohmann::json::parse(plain.out).at("loss"), ej.at("loss"));

  const auto en = run_cli("ensemble --tta --json --threads 2 --model " + a + " --model " + b + " --data " +
                          testing::mnist_dir());
  ASSERT_EQ(en.exit_code, 0) << en.err;
  const auto nj = nlohmann::json::parse(en.out);
  EXPECT_TRUE(nj.at("tta").get<bool>());
  EXPECT_EQ(nj.at("members")[0].at("accuracy"), ej.at("accuracy"));
  const auto text = run_cli("ensemble --tta --threads 2 --model " + a + " --model " + b + " --data " + testing::mnist_dir());
  EXPECT_NE(text.out.find("ensemble of 2 (mean softmax, each over 5 views)"), std::string::npos) << text.out;

  // The error grid of a --tta run ranks its mistakes by the views' mean probability.
  const auto errors = explain::find_errors(er.probabilities, ma.info.normalization, test, er.ensemble.predictions);
  size_t wrong = 0;
  for (int64_t i = 0; i < test.size(); ++i)
    wrong += er.ensemble.predictions[static_cast<size_t>(i)] != test.labels[static_cast<size_t>(i)];
  ASSERT_EQ(errors.size(), wrong);
  ASSERT_GT(wrong, 0u);
  for (size_t i = 0; i < errors.size(); ++i) {
    const auto& m = errors[i];
    EXPECT_EQ(m.confidence, er.probabilities.data()[m.index * 10 + m.predicted]);
    EXPECT_NE(m.truth, m.predicted);
    if (i > 0) {
      EXPECT_GE(errors[i - 1].confidence, m.confidence);
    }
  }
  const auto grid = run_cli("eval --tta --errors-png " + dir + "/e.png --model " + a + " --data " + testing::mnist_dir());
  ASSERT_EQ(grid.exit_code, 0) << grid.err;
  EXPECT_GT(fs::file_size(dir + "/e.png"), 1000u);
  EXPECT_THROW(explain::find_errors(er.probabilities, ma.info.normalization, data::Dataset{}, {}), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
