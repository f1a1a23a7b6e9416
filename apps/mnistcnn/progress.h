// The training progress on stderr and the JSONL record of an epoch, as run_training_job
// reports them (kept apart so that file stays about the run itself).
#pragma once
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "common.h"
#include "mnistcnn/train/trainer.h"
#include "training_run.h"

namespace mnistcnn::cli {

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
      std::fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %lld/%lld  loss %.4f  acc %s  lr %.3g  %.0f img/s  ETA %.0fs", p.epoch,
                   p.epochs, bar.c_str(), static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss,
                   percent(p.accuracy).c_str(), p.lr, ips, eta);
      std::fflush(stderr);
    } else {
      const int64_t fifth = std::max<int64_t>(p.batches / 5, 1);
      if (p.batch % fifth != 0 || p.batch == p.batches) return;
      std::fprintf(stderr, "epoch %d/%d  batch %lld/%lld  loss %.4f  acc %s  lr %.3g  %.0f img/s  ETA %.0fs\n", p.epoch,
                   p.epochs, static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss,
                   percent(p.accuracy).c_str(), p.lr, ips, eta);
    }
  }
  void epoch(const train::EpochResult& r, int epochs, int64_t images) {
    if (quiet_) return;
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::string line = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(epochs) + "  loss " +
                       fmt("%.4f", r.train_loss) + "  acc " + percent(r.train_accuracy);
    if (r.has_val) line += "  val_loss " + fmt("%.4f", r.val_loss) + "  val_acc " + percent(r.val_accuracy);
    line += "  " + fmt("%.2f", r.epoch_seconds) + "s (" + fmt("%.0f", static_cast<double>(images) / r.epoch_seconds) + " img/s)";
    if (r.skipped > 0) line += "  skipped " + std::to_string(r.skipped) + " batches";
    note(line);
  }

 private:
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point last_{};
};

inline nlohmann::json epoch_record(const train::EpochResult& r, int64_t images) {
  nlohmann::json j = {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
                      {"epoch_seconds", r.epoch_seconds}, {"images_per_second", static_cast<double>(images) / r.epoch_seconds},
                      {"steps", r.steps}, {"lr", r.lr}};
  if (r.skipped) j["skipped"] = r.skipped;
  if (r.has_val) {
    j["val_loss"] = r.val_loss;
    j["val_accuracy"] = r.val_accuracy;
    j["eval_seconds"] = r.eval_seconds;
  }
  return j;
}

}  // namespace mnistcnn::cli
