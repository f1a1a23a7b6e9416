#include "mnistcnn/train/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/loss/cross_entropy.h"
#include "mnistcnn/optim/constraints.h"

namespace mnistcnn::train {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

EvalResult evaluate(nn::Sequential& net, data::Loader& data) {
  EvalResult r;
  const int classes = static_cast<int>(net.shapes(1)[net.logits_end() - 1][1]);
  r.confusion = ConfusionMatrix(classes);
  r.predictions.reserve(static_cast<size_t>(data.size()));
  data.start_epoch(0);
  Tensor x;
  std::vector<int32_t> y;
  double total_loss = 0.0;
  for (int64_t b = 0; b < data.num_batches(); ++b) {
    data.batch(b, x, y);
    const Tensor& logits = net.infer(x, net.logits_end());
    total_loss += loss::cross_entropy(logits, y, nullptr) * static_cast<double>(y.size());
    const int64_t C = logits.dim(1);
    for (size_t i = 0; i < y.size(); ++i) {
      const float* row = logits.data() + static_cast<int64_t>(i) * C;
      int32_t best = 0;
      for (int32_t c = 1; c < C; ++c)
        if (row[c] > row[best]) best = c;
      r.predictions.push_back(best);
      r.confusion.add(y[i], best);
    }
  }
  r.loss = data.size() ? total_loss / static_cast<double>(data.size()) : 0.0;
  return r;
}

namespace {

bool finite_grads(const std::vector<nn::Param*>& params) {
  // g·0 is 0 for a finite g and NaN for ±inf or NaN, and a NaN survives a sum in any
  // order: so the sum may run in SIMD lanes (a serial chain was 2% of a fast99 step), in
  // pieces shared out among the threads (lenet's 62k gradients: 11.5 -> 7.7 us a step on
  // two).
  std::atomic<bool> finite{true};
  kernels::for_each_piece(
      static_cast<int64_t>(params.size()),
      [&](int64_t k) { return params[k]->learnable() ? params[k]->grad.numel() : int64_t{0}; },
      [&](int64_t k, int64_t lo, int64_t hi) {
        const float* g = params[k]->grad.data();
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = lo; i < hi; ++i) sum += g[i] * 0.0f;
        if (sum != 0.0f) finite.store(false, std::memory_order_relaxed);
      });
  return finite.load(std::memory_order_relaxed);
}

// The epoch (1-based) with the best monitored metric in `history`, the first of equals
// (a later one must beat it by more than min_delta); 0 when none was validated.
int best_epoch(const std::vector<EpochResult>& history, const FitOptions& o) {
  int best = 0;
  double best_v = 0;
  for (const auto& r : history) {
    if (!r.has_val) continue;
    const double v = o.monitor == Monitor::ValAccuracy ? r.val_accuracy : r.val_loss;
    if (best == 0 || improves(o.monitor, v, best_v, o.min_delta)) best = r.epoch, best_v = v;
  }
  return best;
}

void check_options(const FitOptions& o, const data::Loader* val) {
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) throw Error("EMA decay " + std::to_string(o.ema_decay) + " is not in [0, 1)");
  if (o.early_stop_patience < 0) throw Error("early stopping patience must not be negative");
  if (o.early_stop_patience > 0 && (!val || val->size() == 0))
    throw Error("early stopping needs validation data", "validate after each epoch (no --no-val)");
  if (!(o.min_delta >= 0)) throw Error("early stopping min_delta must be >= 0");
  if (!(o.target_accuracy >= 0 && o.target_accuracy <= 1))
    throw Error("target accuracy " + std::to_string(o.target_accuracy) + " is not in [0, 1]");
  if (o.target_accuracy > 0 && (!val || val->size() == 0))
    throw Error("a target accuracy needs validation data", "validate after each epoch (no --no-val)");
}

}  // namespace

std::vector<EpochResult> fit(nn::Sequential& net, optim::Optimizer& opt, data::Loader& train, data::Loader* val,
                             const FitOptions& options, const Callbacks& callbacks) {
  TrainState state;
  return fit(net, opt, train, val, options, callbacks, state);
}

std::vector<EpochResult> fit(nn::Sequential& net, optim::Optimizer& opt, data::Loader& train, data::Loader* val,
                             const FitOptions& options, const Callbacks& callbacks, TrainState& state) {
  std::vector<EpochResult> history;
  const size_t end = net.logits_end();
  const std::vector<nn::Param*> params = net.params();
  Tensor x, dlogits;
  std::vector<int32_t> y;
  int64_t consecutive_skips = 0;
  check_options(options, val);
  const bool early = options.early_stop_patience > 0, ema = options.ema_decay > 0;
  const bool penalty = options.penalty && !options.penalty->empty();
  if ((early || ema) && !state.held) state.held = std::make_shared<HeldWeights>();
  if (ema && state.held->ema.empty()) ema_update(state.held->ema, params, options.ema_decay);
  state.early_stopped = false;
  state.restored_epoch = 0;
  const auto reached = [&] {
    return options.target_accuracy > 0 && !state.history.empty() && state.history.back().has_val &&
           state.history.back().val_accuracy >= options.target_accuracy;
  };
  for (; state.epoch < options.epochs; ++state.epoch) {
    const int e = state.epoch;
    if (reached()) break;  // checked here too, so a resumed run that had reached it stops
    // Checked here rather than after the epoch, so a run resumed from the checkpoint of
    // the epoch that exhausted the patience stops too.
    if (early && state.epoch - best_epoch(state.history, options) >= options.early_stop_patience) {
      state.early_stopped = true;
      break;
    }
    if (callbacks.on_epoch_start) callbacks.on_epoch_start(state);
    const auto t0 = std::chrono::steady_clock::now();
    const double seconds_before = state.seconds;
    train.start_epoch(e);
    BatchProgress progress;
    progress.epoch = e + 1;
    progress.epochs = options.epochs;
    progress.batches = train.num_batches();
    for (; state.batch < train.num_batches(); ++state.batch) {
      if (options.stop && options.stop->load()) {
        state.seconds = seconds_before + seconds_since(t0);
        state.stopped = true;
        return history;
      }
      train.batch(state.batch, x, y);
      if (options.schedule) opt.set_lr(options.schedule->lr_at(opt.steps()));
      const Tensor& logits = net.forward(x, nn::Mode::Train, end);
      double batch_loss = loss::cross_entropy(logits, y, &dlogits, options.label_smoothing);
      if (penalty) batch_loss += options.penalty->value();
      bool finite = std::isfinite(batch_loss);
      if (finite) {
        opt.zero_grad();
        net.backward(dlogits, end);
        if (penalty) options.penalty->add_gradient();
        finite = finite_grads(params);
      }
      if (!finite) {
        const std::string what = std::isfinite(batch_loss) ? "a gradient" : "the loss (" + std::to_string(batch_loss) + ")";
        if (options.on_nan == OnNan::Stop)
          throw Error("training diverged: " + what + " is not finite at epoch " + std::to_string(e + 1) + ", step " +
                          std::to_string(opt.steps() + 1) + " (batch " + std::to_string(state.batch + 1) + ")",
                      "lower the learning rate (--lr), or skip such batches with --on-nan skip");
        ++state.skipped;
        if (callbacks.on_skip) callbacks.on_skip(e + 1, opt.steps() + 1, batch_loss);
        if (++consecutive_skips > options.max_consecutive_skips)
          throw Error("training diverged: " + std::to_string(consecutive_skips) + " batches in a row had " + what +
                          " not finite, the last at epoch " + std::to_string(e + 1) + ", step " +
                          std::to_string(opt.steps() + 1),
                      "lower the learning rate (--lr)");
        opt.zero_grad();
        if (callbacks.on_step) {
          TrainState after = state;
          ++after.batch;
          callbacks.on_step(after);
        }
        continue;
      }
      consecutive_skips = 0;
      state.correct += loss::count_correct(logits, y);
      opt.step();
      if (options.max_norm > 0) optim::apply_max_norm(params, options.max_norm);
      if (ema) {
        // Warm-up of the decay (TensorFlow's num_updates, timm's ModelEmaV3): early on the
        // average follows the weights, so it never mixes in the initial ones (which, with
        // batch-norm statistics of the trained weights, classify at chance).
        const double t = static_cast<double>(state.epoch * train.num_batches() + state.batch + 1);
        ema_update(state.held->ema, params, std::min(options.ema_decay, (1 + t) / (10 + t)));
      }
      const auto n = static_cast<int64_t>(y.size());
      state.loss_sum += batch_loss * static_cast<double>(n);
      state.seen += n;
      if (callbacks.on_batch) {
        progress.batch = state.batch + 1;
        progress.step = opt.steps();
        progress.images = state.seen;
        progress.batch_loss = batch_loss;
        progress.lr = opt.lr();
        progress.loss = state.loss_sum / static_cast<double>(state.seen);
        progress.accuracy = static_cast<double>(state.correct) / static_cast<double>(state.seen);
        progress.elapsed_s = seconds_since(t0);
        callbacks.on_batch(progress);
      }
      if (callbacks.on_step) {
        TrainState after = state;  // the step is done: the next batch is state.batch + 1
        ++after.batch;
        after.seconds = seconds_before + seconds_since(t0);
        callbacks.on_step(after);
      }
    }
    EpochResult r;
    r.epoch = e + 1;
    r.epoch_seconds = seconds_before + seconds_since(t0);
    r.train_loss = state.seen ? state.loss_sum / static_cast<double>(state.seen) : 0.0;
    r.train_accuracy = state.seen ? static_cast<double>(state.correct) / static_cast<double>(state.seen) : 0.0;
    r.steps = opt.steps();
    r.skipped = state.skipped;
    r.lr = opt.lr();
    if (val && val->size() > 0) {
      const auto t1 = std::chrono::steady_clock::now();
      if (ema) swap_weights(state.held->ema, params);
      EvalResult v;
      try {
        v = evaluate(net, *val);
      } catch (...) {
        if (ema) swap_weights(state.held->ema, params);
        throw;
      }
      // The weights validated are the ones early stopping keeps.
      if (early) {
        std::vector<EpochResult> with = state.history;
        EpochResult now = r;
        now.has_val = true, now.val_loss = v.loss, now.val_accuracy = v.accuracy();
        with.push_back(now);
        if (best_epoch(with, options) == e + 1) state.held->best = snapshot(params);
      }
      if (ema) swap_weights(state.held->ema, params);
      r.has_val = true;
      r.val_loss = v.loss;
      r.val_accuracy = v.accuracy();
      r.eval_seconds = seconds_since(t1);
    }
    if (options.plateau) options.plateau->end_epoch(r.has_val ? r.val_loss : r.train_loss);
    history.push_back(r);
    state.history.push_back(r);
    state.batch = 0;
    state.loss_sum = 0;
    state.correct = state.seen = state.skipped = 0;
    state.seconds = 0;
    if (callbacks.on_epoch) {
      TrainState after = state;
      ++after.epoch;
      callbacks.on_epoch(r, after);
    }
  }
  state.reached_target = reached();
  // The run is over: the network gets the weights it is judged by.
  if (early && !state.held->best.empty()) {
    load_weights(state.held->best, params);
    state.restored_epoch = best_epoch(state.history, options);
  } else if (ema) {
    load_weights(state.held->ema, params);
  }
  return history;
}

}  // namespace mnistcnn::train
