#include "mnistcnn/train/trainer.h"

#include <chrono>
#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/loss/cross_entropy.h"

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
    const Tensor& logits = net.forward(x, nn::Mode::Eval, net.logits_end());
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

std::vector<EpochResult> fit(nn::Sequential& net, optim::Optimizer& opt, data::Loader& train,
                             data::Loader* val, const FitOptions& options, const Callbacks& callbacks) {
  std::vector<EpochResult> history;
  const size_t end = net.logits_end();
  Tensor x, dlogits;
  std::vector<int32_t> y;
  for (int e = options.first_epoch; e < options.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    train.start_epoch(e);
    double loss_sum = 0.0;
    int64_t correct = 0, seen = 0;
    BatchProgress progress;
    progress.epoch = e + 1;
    progress.epochs = options.epochs;
    progress.batches = train.num_batches();
    for (int64_t b = 0; b < train.num_batches(); ++b) {
      train.batch(b, x, y);
      const Tensor& logits = net.forward(x, nn::Mode::Train, end);
      const double batch_loss = loss::cross_entropy(logits, y, &dlogits);
      if (!std::isfinite(batch_loss))
        throw Error("training diverged: loss is " + std::to_string(batch_loss) + " at epoch " +
                        std::to_string(e + 1) + ", step " + std::to_string(opt.steps() + 1),
                    "lower the learning rate (--lr)");
      correct += loss::count_correct(logits, y);
      opt.zero_grad();
      net.backward(dlogits, end);
      opt.step();
      const auto n = static_cast<int64_t>(y.size());
      loss_sum += batch_loss * static_cast<double>(n);
      seen += n;
      if (callbacks.on_batch) {
        progress.batch = b + 1;
        progress.step = opt.steps();
        progress.images = seen;
        progress.batch_loss = batch_loss;
        progress.loss = loss_sum / static_cast<double>(seen);
        progress.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
        progress.elapsed_s = seconds_since(t0);
        callbacks.on_batch(progress);
      }
    }
    EpochResult r;
    r.epoch = e + 1;
    r.epoch_seconds = seconds_since(t0);
    r.train_loss = seen ? loss_sum / static_cast<double>(seen) : 0.0;
    r.train_accuracy = seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
    r.steps = opt.steps();
    r.lr = opt.lr();
    if (val && val->size() > 0) {
      const auto t1 = std::chrono::steady_clock::now();
      const EvalResult v = evaluate(net, *val);
      r.has_val = true;
      r.val_loss = v.loss;
      r.val_accuracy = v.accuracy();
      r.eval_seconds = seconds_since(t1);
    }
    history.push_back(r);
    if (callbacks.on_epoch) callbacks.on_epoch(r);
  }
  return history;
}

}  // namespace mnistcnn::train
