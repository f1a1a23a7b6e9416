// mnistcnn train: a preset's recipe or a spec line, trained on an IDX directory, with a
// progress bar (or plain lines), a JSONL log, the model file, and the test accuracy.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/nn/init.h"
#include "mnistcnn/train/presets.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::cli {

namespace {

struct TrainArgs {
  std::string preset, arch, data_dir = "data/mnist", out, log_path, optimizer, init, normalize;
  int epochs = 0, threads = 0, log_every = 0;
  int64_t batch_size = 0, limit = 0;
  double lr = 0, momentum = 0, weight_decay = 0, val_split = 0;
  bool nesterov = false, no_val = false, as_json = false, quiet = false;
  uint64_t seed = 1;
  CLI::Option *o_epochs, *o_batch, *o_lr, *o_momentum, *o_wd, *o_optimizer, *o_init, *o_normalize, *o_nesterov;
};

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void ensure_parent_dir(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) throw Error(path + ": cannot create directory " + parent.string() + ": " + ec.message());
}

// The progress display: a redrawn bar on a terminal, a plain line every fifth of an
// epoch otherwise.
class Progress {
 public:
  explicit Progress(bool quiet) : tty_(stderr_is_tty()), quiet_(quiet) {}
  void batch(const train::BatchProgress& p) {
    if (quiet_) return;
    const double ips = p.elapsed_s > 0 ? static_cast<double>(p.images) / p.elapsed_s : 0.0;
    const double eta = ips > 0 && p.batch > 0 ? p.elapsed_s * static_cast<double>(p.batches - p.batch) / static_cast<double>(p.batch) : 0.0;
    if (tty_) {
      const auto now = std::chrono::steady_clock::now();
      if (p.batch != p.batches && now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      const int width = 24;
      const int filled = static_cast<int>(width * p.batch / std::max<int64_t>(p.batches, 1));
      std::string bar(static_cast<size_t>(filled), '=');
      if (filled < width) bar += '>' + std::string(static_cast<size_t>(width - filled - 1), ' ');
      std::fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %lld/%lld  loss %.4f  acc %s  %.0f img/s  ETA %.0fs", p.epoch,
                   p.epochs, bar.c_str(), static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss,
                   percent(p.accuracy).c_str(), ips, eta);
      std::fflush(stderr);
    } else {
      const int64_t fifth = std::max<int64_t>(p.batches / 5, 1);
      if (p.batch % fifth != 0 || p.batch == p.batches) return;
      std::fprintf(stderr, "epoch %d/%d  batch %lld/%lld  loss %.4f  acc %s  %.0f img/s  ETA %.0fs\n", p.epoch,
                   p.epochs, static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss,
                   percent(p.accuracy).c_str(), ips, eta);
    }
  }
  void epoch(const train::EpochResult& r, int epochs, int64_t images) {
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::string line = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(epochs) + "  loss " +
                       fmt("%.4f", r.train_loss) + "  acc " + percent(r.train_accuracy);
    if (r.has_val) line += "  val_loss " + fmt("%.4f", r.val_loss) + "  val_acc " + percent(r.val_accuracy);
    line += "  " + fmt("%.2f", r.epoch_seconds) + "s (" + fmt("%.0f", static_cast<double>(images) / r.epoch_seconds) + " img/s)";
    note(line);
  }

 private:
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point last_{};
};

void run_train(TrainArgs& a) {
  const int threads = setup_threads(a.threads);
  if (!a.preset.empty() && !a.arch.empty()) throw Error("--preset and --arch are exclusive", "give one of them");
  std::string preset_name = a.preset.empty() && a.arch.empty() ? "keras-mnist" : a.preset;
  train::Recipe recipe;
  std::string spec = a.arch;
  if (!preset_name.empty()) {
    const train::Preset* p = train::find_preset(preset_name);
    if (!p) throw Error("unknown preset '" + preset_name + "'", "presets: " + train::preset_names());
    recipe = p->recipe;
    spec = p->spec;
  }
  if (a.o_epochs->count()) recipe.epochs = a.epochs;
  if (a.o_batch->count()) recipe.batch_size = a.batch_size;
  if (a.o_optimizer->count()) {
    recipe.optimizer = a.optimizer;
    if (a.optimizer == "adamw" && !a.o_wd->count()) recipe.weight_decay = 0.01;  // PyTorch's AdamW default
    if (a.optimizer != "sgd") recipe.momentum = 0.0;
  }
  if (a.o_lr->count()) recipe.lr = a.lr;
  if (a.o_momentum->count()) recipe.momentum = a.momentum;
  if (a.o_nesterov->count()) recipe.nesterov = a.nesterov;
  if (a.o_wd->count()) recipe.weight_decay = a.weight_decay;
  if (a.o_init->count()) recipe.init = nn::parse_init(a.init);
  if (a.o_normalize->count()) recipe.normalization = a.normalize;
  const data::Normalization norm = data::Normalization::parse(recipe.normalization);

  nn::Sequential net = nn::Sequential::from_spec(spec);
  const Shape out_shape = net.shapes(1)[net.logits_end() - 1];
  if (out_shape.rank() != 2)
    throw Error("the network must end in N×classes scores, but it ends in " + out_shape.str(),
                "end the spec with flatten ... dense(10)");
  net.init(recipe.init, a.seed);
  auto opt = train::make_optimizer(recipe, net.params());

  data::Dataset train_set = load_split(a.data_dir, data::Split::Train, a.quiet);
  if (out_shape[1] < train_set.num_classes)
    throw Error("the network has " + std::to_string(out_shape[1]) + " outputs but the data has " +
                std::to_string(train_set.num_classes) + " classes");
  std::vector<int64_t> pool;
  if (a.limit > 0) {
    const int64_t n = std::min(a.limit, train_set.size());
    pool = data::permutation(train_set.size(), a.seed, 0x11A17);
    pool.resize(static_cast<size_t>(n));
  }
  auto [train_idx, val_idx] = data::split_indices(pool.empty() ? train_set.size() : static_cast<int64_t>(pool.size()),
                                                  a.val_split, a.seed);
  if (!pool.empty()) {
    for (auto& i : train_idx) i = pool[static_cast<size_t>(i)];
    for (auto& i : val_idx) i = pool[static_cast<size_t>(i)];
  }
  data::Dataset test_set = load_split(a.data_dir, data::Split::Test, a.quiet);
  data::Loader train_loader(train_set, train_idx, recipe.batch_size, true, a.seed, norm);
  const int64_t eval_batch = 256;
  std::unique_ptr<data::Loader> val_loader;
  std::string val_name = "none";
  if (!a.no_val) {
    if (!val_idx.empty()) {
      val_loader = std::make_unique<data::Loader>(train_set, val_idx, eval_batch, false, a.seed, norm);
      val_name = "held-out " + human_count(static_cast<int64_t>(val_idx.size())) + " training images";
    } else {
      val_loader = std::make_unique<data::Loader>(test_set, std::vector<int64_t>{}, eval_batch, false, a.seed, norm);
      val_name = "the test set (as the seed recipes do; use --val-split to hold out training data)";
    }
  }
  if (!a.quiet) {
    note("network: " + net.spec() + "  (" + human_count(net.param_count()) + " parameters)");
    note("recipe: " + recipe.optimizer + " lr " + fmt("%g", recipe.lr) +
         (recipe.momentum > 0 ? " momentum " + fmt("%g", recipe.momentum) : "") +
         (recipe.weight_decay > 0 ? " weight decay " + fmt("%g", recipe.weight_decay) : "") + ", batch " +
         std::to_string(recipe.batch_size) + ", " + std::to_string(recipe.epochs) + " epochs, init " +
         nn::init_name(recipe.init) + ", normalization " + norm.name() + ", seed " + std::to_string(a.seed) + ", " +
         std::to_string(threads) + " threads");
    note("training on " + human_count(train_loader.size()) + " images; validation: " + val_name);
  }

  // Output locations are settled before training, so a bad path fails in seconds, not after the run.
  std::string out = a.out;
  if (out.empty()) out = "models/" + (preset_name.empty() ? std::string("custom") : preset_name) + ".safetensors";
  ensure_parent_dir(out);
  std::ofstream log;
  if (!a.log_path.empty()) {
    ensure_parent_dir(a.log_path);
    log.open(a.log_path, std::ios::out | std::ios::trunc);
    if (!log) throw Error(a.log_path + ": cannot open the log file for writing");
  }
  Progress progress(a.quiet);
  train::Callbacks cb;
  cb.on_batch = [&](const train::BatchProgress& p) {
    progress.batch(p);
    if (log.is_open() && a.log_every > 0 && p.step % a.log_every == 0)
      log << nlohmann::json{{"step", p.step}, {"epoch", p.epoch}, {"batch", p.batch}, {"loss", p.batch_loss},
                            {"running_loss", p.loss}, {"running_accuracy", p.accuracy}}.dump()
          << "\n" << std::flush;
  };
  cb.on_epoch = [&](const train::EpochResult& r) {
    progress.epoch(r, recipe.epochs, train_loader.size());
    if (log.is_open()) {
      nlohmann::json j = {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
                          {"epoch_seconds", r.epoch_seconds}, {"images_per_second", train_loader.size() / r.epoch_seconds},
                          {"steps", r.steps}, {"lr", r.lr}};
      if (r.has_val) {
        j["val_loss"] = r.val_loss;
        j["val_accuracy"] = r.val_accuracy;
        j["eval_seconds"] = r.eval_seconds;
      }
      log << j.dump() << "\n" << std::flush;
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto history = train::fit(net, *opt, train_loader, val_loader.get(), {.epochs = recipe.epochs}, cb);
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  data::Loader test_loader(test_set, {}, eval_batch, false, a.seed, norm);
  const auto t1 = std::chrono::steady_clock::now();
  const train::EvalResult test = train::evaluate(net, test_loader);
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();

  io::ModelInfo info;
  info.arch = net.spec();
  info.normalization = norm;
  info.provenance = {{"preset", preset_name.empty() ? "custom" : preset_name},
                     {"optimizer", recipe.optimizer}, {"lr", fmt("%g", recipe.lr)},
                     {"batch_size", std::to_string(recipe.batch_size)}, {"epochs", std::to_string(recipe.epochs)},
                     {"seed", std::to_string(a.seed)}, {"init", nn::init_name(recipe.init)},
                     {"train_images", std::to_string(train_loader.size())}, {"data", a.data_dir},
                     {"test_accuracy", fmt("%.6f", test.accuracy())}, {"test_loss", fmt("%.6f", test.loss)},
                     {"trained_at", now_iso()}, {"threads", std::to_string(threads)},
                     {"mnistcnn_version", "0.1.0"}};
  io::save_model(out, net, info);

  if (a.as_json) {
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& r : history)
      epochs.push_back({{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
                        {"val_loss", r.has_val ? nlohmann::json(r.val_loss) : nlohmann::json()},
                        {"val_accuracy", r.has_val ? nlohmann::json(r.val_accuracy) : nlohmann::json()},
                        {"epoch_seconds", r.epoch_seconds}});
    nlohmann::json j = {{"model", out}, {"spec", net.spec()}, {"test_accuracy", test.accuracy()},
                        {"test_loss", test.loss}, {"test_count", test.count()}, {"train_seconds", train_seconds},
                        {"eval_seconds", eval_seconds}, {"epochs", epochs},
                        {"recipe", {{"optimizer", recipe.optimizer}, {"lr", recipe.lr}, {"momentum", recipe.momentum},
                                    {"weight_decay", recipe.weight_decay}, {"batch_size", recipe.batch_size},
                                    {"epochs", recipe.epochs}, {"normalization", norm.name()},
                                    {"init", nn::init_name(recipe.init)}, {"seed", a.seed}, {"threads", threads}}}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("test accuracy: %s (loss %.4f) on %s images; model saved to %s\n", percent(test.accuracy()).c_str(),
                test.loss, human_count(test.count()).c_str(), out.c_str());
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a network (a preset's recipe or a spec line) on MNIST-format data");
  cmd->add_option("--preset", a->preset, "named network with its seed recipe: " + train::preset_names() +
                                             " (default keras-mnist when no --arch)");
  cmd->add_option("--arch", a->arch, "network as a spec line, e.g. \"conv(32,3) relu maxpool(2) flatten dense(10)\"");
  cmd->add_option("--data", a->data_dir, "directory with the four IDX files (raw or .gz)")->capture_default_str();
  a->o_epochs = cmd->add_option("--epochs", a->epochs, "training epochs")->check(CLI::Range(1, 100000));
  a->o_batch = cmd->add_option("--batch-size", a->batch_size, "images per batch")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  a->o_optimizer = cmd->add_option("--optimizer", a->optimizer, "sgd | adam | adamw")->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  a->o_lr = cmd->add_option("--lr", a->lr, "learning rate")->check(finite_number())->check(CLI::Range(0.0, 100.0));
  a->o_momentum = cmd->add_option("--momentum", a->momentum, "SGD momentum")->check(finite_number())->check(CLI::Range(0.0, 0.9999));
  a->o_nesterov = cmd->add_flag("--nesterov", a->nesterov, "Nesterov momentum (SGD)");
  a->o_wd = cmd->add_option("--weight-decay", a->weight_decay, "L2 weight decay (decoupled for adamw; default 0.01 there)")
                ->check(finite_number())->check(CLI::Range(0.0, 10.0));
  a->o_init = cmd->add_option("--init", a->init, "weight initialisation: torch | glorot-uniform");
  a->o_normalize = cmd->add_option("--normalize", a->normalize, "scale (pixels/255) | standardize (mean 0.1307, std 0.3081) | MEAN,STD");
  cmd->add_option("--seed", a->seed, "seed for initialisation, shuffling and dropout")->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024))->capture_default_str();
  cmd->add_option("--val-split", a->val_split, "fraction of the training images held out for validation "
                                               "(0: validate on the test set, as the seeds do)")
      ->check(finite_number())->check(CLI::Range(0.0, 0.9));
  cmd->add_flag("--no-val", a->no_val, "no validation after each epoch");
  cmd->add_option("--limit", a->limit, "train on a seeded random subset of this many training images")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--out", a->out, "model file to write (default models/PRESET.safetensors)");
  cmd->add_option("--log", a->log_path, "JSONL log: one record per epoch (and per --log-every steps)");
  cmd->add_option("--log-every", a->log_every, "also log every N optimizer steps")->check(CLI::Range(0, 1 << 30));
  cmd->add_flag("--json", a->as_json, "print one JSON object with the results on stdout");
  cmd->add_flag("--quiet,-q", a->quiet, "no progress output");
  cmd->callback([a] { run_train(*a); });
}

}  // namespace mnistcnn::cli
