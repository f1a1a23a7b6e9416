#include "training_run.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common.h"
#include "progress.h"
#include "signal_stop.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/nn/select.h"
#include "mnistcnn/optim/penalty.h"

namespace mnistcnn::cli {

namespace {

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void ensure_parent_dir(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) throw Error(path + ": cannot create directory " + parent.string() + ": " + ec.message());
}

}  // namespace

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void add_run_flags(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("--schedule", f.schedule, "learning-rate schedule: " + optim::schedule_kinds())->capture_default_str();
  cmd->add_option("--log", f.log_path, "JSONL log: one record per epoch (and per --log-every steps)");
  cmd->add_option("--log-every", f.log_every, "also log every N optimizer steps")->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--checkpoint-dir", f.checkpoint_dir,
                  "write a checkpoint (model + optimizer + training state) here after every epoch, keep the "
                  "last --keep-last and best.safetensors");
  cmd->add_option("--checkpoint-every", f.checkpoint_every, "also write a checkpoint every N optimizer steps")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--keep-last", f.keep_last, "checkpoints kept in --checkpoint-dir (0: all)")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("--resume", f.resume,
                  "continue exactly from this checkpoint (or the newest in this directory); give the same flags "
                  "as the original run (--epochs, --lr and --schedule may change)");
  cmd->add_option("--on-nan", f.on_nan, "a non-finite loss or gradient: stop (keeping the last checkpoint) | skip the batch")
      ->check(CLI::IsMember({"stop", "skip"}))->capture_default_str();
  cmd->add_option("--label-smoothing", f.label_smoothing, "cross-entropy against (1-e)·one-hot + e/classes")
      ->check(finite_number())->check(CLI::Range(0.0, 0.999));
  cmd->add_option("--max-norm", f.max_norm, "after each step, scale each unit's incoming weights to norm <= this (0: off)")
      ->check(finite_number())->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--early-stop", f.early_stop,
                  "stop once the --monitor metric has not improved for this many epochs, and keep the best "
                  "epoch's weights (0: off; needs validation)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--stop-at", f.stop_at,
                  "end the run after the first epoch whose validation accuracy reaches this fraction (e.g. 0.99), "
                  "and report the seconds from program start (time to accuracy; 0: off)")
      ->check(finite_number())->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--monitor", f.monitor, "the validation metric --early-stop watches")
      ->check(CLI::IsMember({"val_accuracy", "val_loss"}))->capture_default_str();
  cmd->add_option("--ema", f.ema,
                  "keep an exponential moving average of the weights with this decay (e.g. 0.999), updated "
                  "every step; validate, test and save it (0: off)")
      ->check(finite_number())->check(CLI::Range(0.0, 0.999999));
  const std::string penalty_help =
      " penalty (Keras' kernel_regularizer) on conv and dense weights, never biases or batch norm: a number for "
      "all of them, or \"GROUP=VALUE;GROUP=VALUE\" with GROUP a layer selection (" + nn::selector_help() +
      "). Added to the reported training loss and its gradient to the weights'; validation loss stays the "
      "plain cross-entropy";
  cmd->add_option("--l1", f.l1, "L1" + penalty_help + ": l1·Σ|w|, gradient l1·sign(w)");
  cmd->add_option("--l2", f.l2, "L2" + penalty_help + ": l2·Σw², gradient 2·l2·w (Keras' form; PyTorch's "
                                "weight_decay=wd matches l2 = wd/2)");
  add_augment_options(cmd, f.augment);
  cmd->add_flag("--json", f.as_json, "print one JSON object with the results on stdout");
  cmd->add_flag("--quiet,-q", f.quiet, "no progress output");
}

void check_needs_validation(const RunFlags& f, bool validates) {
  if (validates) return;
  for (const auto& [flag, on] : {std::pair{"--early-stop", f.early_stop > 0}, std::pair{"--stop-at", f.stop_at > 0}})
    if (on)
      throw Error(std::string(flag) + " needs validation after each epoch, and --no-val turns it off",
                  "drop --no-val (validation then uses --val-split or the test set)");
}

train::Checkpoint load_resume(const std::string& path, std::string& resolved) {
  resolved = path;
  if (std::filesystem::is_directory(path)) {
    resolved = train::latest_checkpoint(path);
    if (resolved.empty()) throw Error(path + ": no loadable checkpoint (ckpt-e*-s*.safetensors) in this directory");
  }
  return train::load_checkpoint(resolved);
}

// Run-record keys that came after the first checkpoints, with the value a checkpoint
// that lacks one was made with (the setting was off). A key added later goes here.
const std::map<std::string, std::string> kOffBeforeRecorded = {
    {"label_smoothing", "0"}, {"max_norm", "0"}, {"ema", "0"}, {"early_stop", "off"}, {"l1", "off"}, {"l2", "off"}};

void check_resume(const train::Checkpoint& ck, const std::string& path, const std::string& arch,
                  const std::map<std::string, std::string>& run, bool quiet) {
  if (ck.info.arch != arch)
    throw Error(path + ": the checkpoint is of another architecture: " + ck.info.arch + "; this run builds " + arch,
                "resume with the same --preset/--arch as the original run");
  static const std::map<std::string, std::string> hints = {
      {"data", "resume on the same training data (--data, --limit, --val-split, --classes, --per-class)"}};
  // The data last: a different seed or split changes the data too, and names the cause better.
  std::vector<std::pair<std::string, std::string>> ordered(run.begin(), run.end());
  std::stable_partition(ordered.begin(), ordered.end(), [](const auto& kv) { return kv.first != "data"; });
  for (const auto& [key, value] : ordered) {
    const bool free_key = key.rfind("free/", 0) == 0;
    const auto it = ck.run.find(key);
    const auto old = kOffBeforeRecorded.find(key);
    const std::string before =
        it != ck.run.end() ? it->second : old != kOffBeforeRecorded.end() ? old->second : "(not recorded)";
    if (before == value) continue;
    if (free_key) {
      if (!quiet) note("resume: " + key.substr(5) + " changes from " + before + " to " + value);
      continue;
    }
    const auto h = hints.find(key);
    throw Error(path + ": the checkpoint was made with " + key + " = " + before + ", this run has " + value,
                h != hints.end() ? h->second : "resume with the same flags as the original run");
  }
}

std::map<std::string, std::string> base_run_record(uint64_t seed, int64_t batch_size, const std::string& optimizer,
                                                   const data::Loader& train, int epochs, double lr,
                                                   const std::string& schedule) {
  return {{"seed", std::to_string(seed)}, {"batch_size", std::to_string(batch_size)}, {"optimizer", optimizer},
          {"data", train.fingerprint()}, {"free/epochs", std::to_string(epochs)}, {"free/lr", fmt("%g", lr)},
          {"free/schedule", schedule}};
}

void resume_job(const RunFlags& f, TrainingJob& job, nn::Sequential& net, std::unique_ptr<optim::Optimizer>& opt,
                const std::function<std::unique_ptr<optim::Optimizer>(nn::Sequential&)>& make_optimizer,
                optim::Schedule& schedule, int epochs) {
  std::string path;
  train::Checkpoint ck = load_resume(f.resume, path);
  check_resume(ck, path, net.spec(), job.run, f.quiet);
  net = std::move(ck.net);
  opt = make_optimizer(net);
  restore_training(ck, net, *opt, ck.run.at("free/schedule") == f.schedule ? &schedule : nullptr, path);
  job.state = ck.state;
  if (f.quiet) return;
  note("resuming from " + path + " at epoch " + std::to_string(job.state.epoch + 1) + ", batch " +
       std::to_string(job.state.batch) + " (step " + std::to_string(opt->steps()) + ")");
  if (job.state.epoch >= epochs)
    note("the checkpoint has finished all " + std::to_string(job.state.epoch) +
         " epochs; evaluating it and writing the model (a larger --epochs trains further)");
}

void apply_regularisation(const RunFlags& f, data::Loader& train, std::map<std::string, std::string>& run,
                          std::map<std::string, std::string>& provenance) {
  const data::AugmentOptions aug = resolve_augment(f.augment);
  train.set_augment(aug);
  const std::string text = data::augment_to_string(aug);
  run["augment"] = provenance["augment"] = text;
  run["label_smoothing"] = provenance["label_smoothing"] = fmt("%g", f.label_smoothing);
  run["max_norm"] = provenance["max_norm"] = fmt("%g", f.max_norm);
  run["ema"] = provenance["ema"] = fmt("%g", f.ema);
  // Syntax now, so a typo fails before training; the groups are checked against the network.
  for (const auto& [flag, text, key] : {std::tuple{"--l1", f.l1, "l1"}, std::tuple{"--l2", f.l2, "l2"}}) {
    bool none = true;
    for (const optim::PenaltyPart& part : optim::parse_penalty(text, flag)) none = none && part.value == 0;
    run[key] = provenance[key] = none ? "off" : text;
  }
  run["early_stop"] = provenance["early_stop"] = f.early_stop ? std::to_string(f.early_stop) + " on " + f.monitor : "off";
}

void run_training_job(TrainingJob& job, const RunFlags& f) {
  nn::Sequential& net = *job.net;
  // Output locations are settled before training, so a bad path fails in seconds, not after the run.
  ensure_parent_dir(f.out);
  check_needs_validation(f, job.val != nullptr);
  std::ofstream log;
  if (!f.log_path.empty()) {
    ensure_parent_dir(f.log_path);
    const bool resuming = !f.resume.empty();
    log.open(f.log_path, resuming ? std::ios::app : std::ios::out | std::ios::trunc);
    if (!log) throw Error(f.log_path + ": cannot open the log file for writing");
  }
  std::unique_ptr<train::CheckpointDir> ckdir;
  if (!f.checkpoint_dir.empty()) ckdir = std::make_unique<train::CheckpointDir>(f.checkpoint_dir, f.keep_last);

  io::ModelInfo ck_info = job.info;
  Progress progress(f.quiet);
  train::Callbacks cb;
  cb.on_epoch_start = job.on_epoch_start;
  cb.on_batch = [&](const train::BatchProgress& p) {
    progress.batch(p);
    if (log.is_open() && f.log_every > 0 && p.step % f.log_every == 0)
      log << nlohmann::json{{"step", p.step}, {"epoch", p.epoch}, {"batch", p.batch}, {"loss", p.batch_loss},
                            {"lr", p.lr}, {"running_loss", p.loss}, {"running_accuracy", p.accuracy}}.dump()
          << "\n" << std::flush;
  };
  cb.on_skip = [&](int epoch, int64_t step, double loss) {
    note("skipped a batch with a non-finite " + std::string(std::isfinite(loss) ? "gradient" : "loss") + " at epoch " +
         std::to_string(epoch) + ", step " + std::to_string(step));
  };
  train::TrainState last_state = job.state;
  cb.on_step = [&](const train::TrainState& s) {
    last_state = s;
    if (ckdir && f.checkpoint_every > 0 && job.opt->steps() % f.checkpoint_every == 0 && s.batch < job.train->num_batches())
      ckdir->write(net, *job.opt, job.schedule, s, ck_info, job.run);
  };
  double target_seconds = -1;  // since program start, when validation first reached --stop-at
  cb.on_epoch = [&](const train::EpochResult& r, const train::TrainState& s) {
    last_state = s;
    if (f.stop_at > 0 && target_seconds < 0 && r.has_val && r.val_accuracy >= f.stop_at)
      target_seconds = seconds_since_start();
    progress.epoch(r, job.epochs, job.train->size());
    if (log.is_open()) log << epoch_record(r, job.train->size()).dump() << "\n" << std::flush;
    if (ckdir) {
      const std::string p = ckdir->write(net, *job.opt, job.schedule, s, ck_info, job.run);
      const bool best = ckdir->write_best_if_improved(net, *job.opt, job.schedule, s, ck_info, job.run);
      if (!f.quiet) note("checkpoint: " + p + (best ? " (and best.safetensors)" : ""));
    }
  };

  train::FitOptions fo;
  fo.epochs = job.epochs;
  fo.schedule = job.schedule;
  fo.plateau = job.schedule;
  fo.on_nan = f.on_nan == "skip" ? train::OnNan::Skip : train::OnNan::Stop;
  fo.label_smoothing = f.label_smoothing;
  fo.max_norm = f.max_norm;
  fo.early_stop_patience = f.early_stop;
  fo.monitor = f.monitor == "val_loss" ? train::Monitor::ValLoss : train::Monitor::ValAccuracy;
  fo.ema_decay = f.ema;
  fo.target_accuracy = f.stop_at;
  const optim::Penalty penalty = optim::make_penalty(net, f.l1, f.l2);
  fo.penalty = &penalty;
  if (!penalty.empty()) {
    job.recipe["l1"] = f.l1;
    job.recipe["l2"] = f.l2;
    if (!f.quiet)
      note("penalty on " + std::to_string(penalty.terms().size()) + " weight tensors (l1 " +
           (f.l1.empty() ? std::string("off") : f.l1) + ", l2 " + (f.l2.empty() ? std::string("off") : f.l2) +
           "); the training loss includes it");
  }
  if (f.ema > 0 && !f.quiet)
    note("EMA of the weights (decay " + fmt("%g", f.ema) + "): validation, the test and the model file use the average");
  const char* stop_name = "";
  int stop_code = 0;
  const auto t0 = std::chrono::steady_clock::now();
  {
    const SignalStop signals;
    fo.stop = signals.flag();
    train::fit(net, *job.opt, *job.train, job.val, fo, cb, job.state);
    stop_name = signals.name();
    stop_code = signals.exit_code();
  }
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (job.state.stopped) {
    std::string where = f.checkpoint_dir;
    std::string path;
    if (ckdir) {
      path = ckdir->write(net, *job.opt, job.schedule, job.state, ck_info, job.run);
    } else {
      auto p = std::filesystem::path(f.out);
      path = (p.parent_path() / (p.stem().string() + ".interrupted.safetensors")).string();
      train::save_checkpoint(path, net, *job.opt, job.schedule, job.state, ck_info, job.run);
    }
    note(std::string("stopped by ") + stop_name + " at epoch " +
         std::to_string(job.state.epoch + 1) + ", batch " + std::to_string(job.state.batch) + "; checkpoint: " + path);
    note("continue with the same command and --resume " + path);
    throw StoppedBySignal{stop_code};
  }

  if (!f.quiet && job.state.early_stopped)
    note("early stop: " + f.monitor + " has not improved for " + std::to_string(f.early_stop) +
         (f.early_stop == 1 ? " epoch" : " epochs"));
  if (!f.quiet && f.stop_at > 0) {
    if (job.state.reached_target && target_seconds >= 0)
      note("target reached: validation accuracy " + percent(job.state.history.back().val_accuracy) + " >= " +
           percent(f.stop_at) + " at epoch " + std::to_string(job.state.history.back().epoch) + ", " +
           fmt("%.2f", target_seconds) + " s after the program started");
    else if (job.state.reached_target)
      note("target " + percent(f.stop_at) + " had been reached before this resumed run");
    else
      note("target " + percent(f.stop_at) + " not reached in " + std::to_string(job.epochs) + " epochs");
  }
  if (!f.quiet && job.state.restored_epoch > 0)
    note("restored the weights of epoch " + std::to_string(job.state.restored_epoch) + " (best " + f.monitor + ")" +
         (f.ema > 0 ? ", their EMA" : ""));
  const auto t1 = std::chrono::steady_clock::now();
  train::EvalResult test;
  if (job.test) test = train::evaluate(net, *job.test);
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();

  io::ModelInfo info = job.info;
  info.arch = net.spec();
  if (job.test) {
    info.provenance["test_accuracy"] = fmt("%.6f", test.accuracy());
    info.provenance["test_loss"] = fmt("%.6f", test.loss);
  }
  info.provenance["trained_at"] = now_iso();
  if (job.state.restored_epoch > 0) info.provenance["restored_epoch"] = std::to_string(job.state.restored_epoch);
  io::save_model(f.out, net, info);

  if (f.as_json) {
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& r : job.state.history) epochs.push_back(epoch_record(r, job.train->size()));
    nlohmann::json j = {{"model", f.out}, {"spec", net.spec()}, {"train_seconds", train_seconds},
                        {"epochs", epochs}, {"recipe", job.recipe}, {"early_stopped", job.state.early_stopped},
                        {"restored_epoch", job.state.restored_epoch}};
    if (f.stop_at > 0) {
      j["stop_at"] = f.stop_at;
      j["reached_target"] = job.state.reached_target;
      if (target_seconds >= 0) j["target_seconds"] = target_seconds;  // since program start
    }
    if (job.test) {
      j["test_accuracy"] = test.accuracy();
      j["test_loss"] = test.loss;
      j["test_count"] = test.count();
      j["eval_seconds"] = eval_seconds;
    }
    std::printf("%s\n", j.dump().c_str());
  } else if (!job.test) {
    std::printf("model saved to %s (no test evaluation: --no-test)\n", f.out.c_str());
  } else {
    std::printf("test accuracy: %s (loss %.4f) on %s images; model saved to %s\n", percent(test.accuracy()).c_str(),
                test.loss, human_count(test.count()).c_str(), f.out.c_str());
  }
}

}  // namespace mnistcnn::cli
