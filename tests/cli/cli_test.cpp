// The command line as a user drives it: arch, train, eval, predict and info on real
// MNIST, their --json contracts, and clear errors with non-zero exits on bad input.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "mnistcnn/data/dataset.h"
#include "mnistcnn/io/png.h"
#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

using testing::run_cli;

TEST(Cli, ArchShowPrintsTheSummary) {
  const auto r = run_cli("arch show keras-mnist");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Total params: 34,826"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4.88 MFLOP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(None, 64, 5, 5)"), std::string::npos) << r.out;
  const auto j = run_cli("arch show lenet --json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(nlohmann::json::parse(j.out)["params"], 60074);
}

TEST(Cli, ArchShowRefusesCollapsingSpec) {
  const auto r = run_cli("arch show 'conv(8,30) relu flatten dense(10)'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("conv(8,30)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not fit"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, BadFlagsExitNonZeroWithAMessage) {
  for (const std::string args : {"train --epochs -1", "train --batch-size 0", "train --lr nan", "train --bogus",
                                 "train --epochs", "train --optimizer rmsprop", "eval", "nosuchcommand"}) {
    const auto r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_FALSE(r.err.empty()) << args;
  }
  const auto r = run_cli("train --preset nope --data /nonexistent");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown preset 'nope'"), std::string::npos) << r.err;
}

TEST(Cli, MissingOrDamagedModelFileIsNamed) {
  const auto r = run_cli("info /nonexistent/model.safetensors");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.safetensors"), std::string::npos) << r.err;
  const std::string dir = testing::make_temp_dir("badmodel");
  { std::ofstream(dir + "/m.safetensors") << "not a model"; }
  const auto r2 = run_cli("eval --model " + dir + "/m.safetensors --data " + dir);
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.err.find(dir + "/m.safetensors"), std::string::npos) << r2.err;
  std::filesystem::remove_all(dir);
}

TEST(Cli, TrainEvalPredictInfoOnRealMnist) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("workflow");
  const std::string model = dir + "/m.safetensors";
  // --log and --out into directories that do not exist yet: both are created.
  const std::string model_dir = dir + "/models";
  const std::string model_in_new_dir = model_dir + "/m.safetensors";
  const auto t = run_cli("train --preset keras-mnist --data " + testing::mnist_dir() +
                         " --limit 2000 --epochs 1 --json --log " + dir + "/logs/log.jsonl --out " + model_in_new_dir);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  std::filesystem::copy_file(model_in_new_dir, model);
  const auto tj = nlohmann::json::parse(t.out);  // exactly one JSON object on stdout
  EXPECT_GE(tj["test_accuracy"].get<double>(), 0.85);
  EXPECT_TRUE(std::filesystem::exists(model));
  EXPECT_EQ(tj["model"], model_in_new_dir);
  {
    std::ifstream log(dir + "/logs/log.jsonl");
    std::string line;
    ASSERT_TRUE(std::getline(log, line));
    const auto rec = nlohmann::json::parse(line);
    EXPECT_EQ(rec["epoch"], 1);
    EXPECT_GT(rec["epoch_seconds"].get<double>(), 0.0);
    EXPECT_TRUE(rec.contains("val_accuracy"));
  }

  // eval on a directory holding only the test pair.
  const std::string test_only = dir + "/test_only";
  std::filesystem::create_directories(test_only);
  for (const char* f : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    std::filesystem::create_symlink(testing::mnist_dir() + "/" + f, test_only + "/" + f);
  const auto e = run_cli("eval --model " + model + " --data " + test_only + " --json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto ej = nlohmann::json::parse(e.out);
  EXPECT_EQ(ej["count"], 10000);
  EXPECT_NEAR(ej["accuracy"].get<double>(), tj["test_accuracy"].get<double>(), 1e-9);
  EXPECT_EQ(ej["per_class"].size(), 10u);
  EXPECT_EQ(ej["confusion"].size(), 10u);
  int64_t total = 0;
  for (const auto& row : ej["confusion"])
    for (const auto& v : row) total += v.get<int64_t>();
  EXPECT_EQ(total, 10000);
  const auto eh = run_cli("eval --model " + model + " --data " + test_only);
  EXPECT_NE(eh.out.find("confusion matrix"), std::string::npos);
  EXPECT_NE(eh.out.find("weighted avg"), std::string::npos);
  // --repeat times more passes (warm) and reports their median beside the scored pass.
  const auto er = run_cli("eval --model " + model + " --data " + test_only + " --repeat 2 --json");
  ASSERT_EQ(er.exit_code, 0) << er.err;
  const auto erj = nlohmann::json::parse(er.out);
  EXPECT_EQ(erj["accuracy"], ej["accuracy"]);
  EXPECT_EQ(erj["repeat"], 2);
  EXPECT_GT(erj["warm_seconds"].get<double>(), 0.0);
  EXPECT_NEAR(erj["warm_images_per_second"].get<double>() * erj["warm_seconds"].get<double>(), 10000, 1e-6);
  EXPECT_FALSE(ej.contains("warm_seconds"));
  const auto erh = run_cli("eval --model " + model + " --data " + test_only + " --repeat 1");
  EXPECT_NE(erh.out.find("warm: "), std::string::npos) << erh.out;
  EXPECT_NE(erh.out.find("(the median of 1 more passes)"), std::string::npos) << erh.out;
  const auto bad_repeat = run_cli("eval --model " + model + " --data " + test_only + " --repeat -1");
  EXPECT_NE(bad_repeat.exit_code, 0);
  EXPECT_NE(bad_repeat.err.find("--repeat"), std::string::npos) << bad_repeat.err;

  // predict: a real test digit written as a dark-on-light PNG, three times larger, and a blank page.
  const data::Dataset test = data::load_idx_split(testing::mnist_dir(), data::Split::Test);
  std::vector<uint8_t> big(84 * 84);
  for (int y = 0; y < 84; ++y)
    for (int x = 0; x < 84; ++x) big[static_cast<size_t>(y * 84 + x)] = static_cast<uint8_t>(255 - test.images[static_cast<size_t>((y / 3) * 28 + x / 3)]);
  io::write_png_gray(dir + "/seven.png", 84, 84, big.data());
  std::vector<uint8_t> white(50 * 40, 255);
  io::write_png_gray(dir + "/blank.png", 50, 40, white.data());
  const auto p = run_cli("predict --model " + model + " " + dir + "/seven.png " + dir + "/blank.png --json --top-k 3");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const auto pj = nlohmann::json::parse(p.out);
  ASSERT_EQ(pj["predictions"].size(), 2u);
  EXPECT_EQ(pj["predictions"][0]["label"], "7");  // the first test digit is a 7
  EXPECT_EQ(pj["predictions"][0]["top"].size(), 3u);
  double sum = 0;
  for (const auto& v : pj["predictions"][0]["probabilities"]) sum += v.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_TRUE(pj["predictions"][1]["blank"].get<bool>());
  const auto ph = run_cli("predict --model " + model + " " + dir + "/blank.png");
  EXPECT_NE(ph.out.find("blank"), std::string::npos) << ph.out;

  const auto i = run_cli("info " + model + " --json");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const auto ij = nlohmann::json::parse(i.out);
  EXPECT_EQ(ij["params"], 34826);
  EXPECT_EQ(ij["normalization"]["name"], "scale");
  EXPECT_EQ(ij["provenance"]["preset"], "keras-mnist");
  std::filesystem::remove_all(dir);
}

struct SmallRun {
  nlohmann::json train, info;  // train's and info's --json output
};

// Trains for one epoch on 2,000 images with `flags`, checks that `eval` of the saved model
// repeats the test accuracy training reported, and reads the model's `info`.
SmallRun train_small_and_reload(const std::string& tag, const std::string& flags) {
  SmallRun r;
  const std::string dir = testing::make_temp_dir(tag);
  const std::string model = dir + "/" + tag + ".safetensors";
  const auto t = run_cli("train " + flags + " --data " + testing::mnist_dir() +
                         " --limit 2000 --epochs 1 --threads 1 --json --quiet --out " + model);
  EXPECT_EQ(t.exit_code, 0) << t.err;
  if (t.exit_code != 0) return r;
  r.train = nlohmann::json::parse(t.out);
  const auto e = run_cli("eval --model " + model + " --data " + testing::mnist_dir() + " --threads 1 --json");
  EXPECT_EQ(e.exit_code, 0) << e.err;
  if (e.exit_code == 0) {
    EXPECT_EQ(nlohmann::json::parse(e.out)["accuracy"].get<double>(), r.train["test_accuracy"].get<double>());
  }
  const auto i = run_cli("info " + model + " --json");
  EXPECT_EQ(i.exit_code, 0) << i.err;
  if (i.exit_code == 0) r.info = nlohmann::json::parse(i.out);
  std::filesystem::remove_all(dir);
  return r;
}

// A network with the issue-7 layers through the real program: batch-norm buffers are
// saved and reloaded (eval reproduces train's test accuracy exactly), `info` counts
// learnt parameters only but lists the running statistics.
TEST(Cli, BatchNormNetworkTrainsSavesAndReloads) {
  MNISTCNN_REQUIRE_MNIST();
  const SmallRun r = train_small_and_reload(
      "bn", "--arch 'conv(8,3,pad=same) batchnorm leakyrelu maxpool(2) conv(16,3) bn elu maxpool(2) flatten dense(10)'");
  ASSERT_FALSE(r.info.is_null());
  EXPECT_GE(r.train["test_accuracy"].get<double>(), 0.75);  // measured 0.8485
  EXPECT_EQ(r.info["params"], 80 + 16 + 1168 + 32 + 5770);
  std::vector<std::string> names;
  for (const auto& tensor : r.info["tensors"]) names.push_back(tensor["name"].get<std::string>());
  for (const char* want : {"1.running_mean", "1.running_var", "1.num_batches_tracked", "5.running_var"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
}

// --deskew is kept in the model: eval (which reads the choice from the file) repeats the
// accuracy training measured on the deskewed test images, and info shows it.
TEST(Cli, DeskewIsStoredAndAppliedByEval) {
  MNISTCNN_REQUIRE_MNIST();
  const SmallRun r = train_small_and_reload("deskew", "--arch 'conv(8,5) relu maxpool(2) flatten dense(10)' --deskew");
  ASSERT_FALSE(r.info.is_null());
  EXPECT_EQ(r.info["normalization"]["name"], "scale+deskew");
  EXPECT_EQ(r.info["normalization"]["deskew"], true);
}

// --normalize-width likewise, after --deskew when both are given; a width the 28-pixel
// input cannot hold is refused before any data is read.
TEST(Cli, WidthNormalisationIsStoredAndAppliedByEval) {
  MNISTCNN_REQUIRE_MNIST();
  const SmallRun r = train_small_and_reload(
      "width", "--arch 'conv(8,5) relu maxpool(2) flatten dense(10)' --deskew --normalize-width 14");
  ASSERT_FALSE(r.info.is_null());
  EXPECT_EQ(r.info["normalization"]["name"], "scale+deskew+width=14");
  EXPECT_EQ(r.info["normalization"]["width"], 14);
  const auto bad = run_cli("train --arch 'flatten dense(10)' --normalize-width 29 --dry-run");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("width normalisation to 29 pixels does not fit the network's"), std::string::npos) << bad.err;
}

// SIGTERM (or Ctrl-C) stops the server cleanly: it says so and exits 0. The program takes
// the signals on a thread of its own (apps/mnistcnn/signal_stop.h), not in a handler.
std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A `serve` of the fixture model, started and listening; its pid. Its stderr goes to
// `dir`/err.
int start_serve(const std::string& dir) {
  const std::string model = std::string(MNISTCNN_SOURCE_DIR) + "/tests/fixtures/interop/mnistcnn_keras_mnist.safetensors";
  const int pid = testing::spawn_cli("serve --model " + model + " --port 0", dir + "/err");
  const auto t0 = std::chrono::steady_clock::now();
  while (read_text(dir + "/err").find("predictions at once") == std::string::npos &&
         std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // The server takes the signals before this note; a signal in the microseconds before
  // httplib's loop starts would need a second one, so give it time to be listening.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return pid;
}

TEST(Cli, ServeStopsCleanlyOnSigterm) {
  const std::string dir = testing::make_temp_dir("serve_sigterm");
  const int pid = start_serve(dir);
  kill(pid, SIGTERM);
  EXPECT_EQ(testing::wait_cli(pid), 0) << read_text(dir + "/err");
  EXPECT_NE(read_text(dir + "/err").find("stopped"), std::string::npos) << read_text(dir + "/err");
  std::filesystem::remove_all(dir);
}

// The long-running commands restart with GOMP_SPINCOUNT=10000 (apps/mnistcnn/main.cpp)
// unless the user set the spin: seen in the environment of the running program.
TEST(Cli, LongRunningCommandsSetTheOpenMpSpinUnlessTheUserDid) {
  const char* saved = std::getenv("GOMP_SPINCOUNT");
  const std::string restore = saved ? saved : "";
  ASSERT_EQ(std::getenv("OMP_WAIT_POLICY"), nullptr) << "the test needs OMP_WAIT_POLICY unset";
  for (const char* user : {static_cast<const char*>(nullptr), "1234"}) {
    if (user)
      setenv("GOMP_SPINCOUNT", user, 1);
    else
      unsetenv("GOMP_SPINCOUNT");
    const std::string dir = testing::make_temp_dir("serve_spin");
    const int pid = start_serve(dir);
    std::string env = read_text("/proc/" + std::to_string(pid) + "/environ");
    std::replace(env.begin(), env.end(), '\0', '\n');
    kill(pid, SIGTERM);
    EXPECT_EQ(testing::wait_cli(pid), 0) << read_text(dir + "/err");
    EXPECT_NE(("\n" + env).find(std::string("\nGOMP_SPINCOUNT=") + (user ? user : "10000") + "\n"), std::string::npos)
        << env;
    std::filesystem::remove_all(dir);
  }
  if (saved)
    setenv("GOMP_SPINCOUNT", restore.c_str(), 1);
  else
    unsetenv("GOMP_SPINCOUNT");
}

}  // namespace
}  // namespace mnistcnn
