// The training loop and evaluation. The library reports through callbacks and never
// prints: the CLI draws progress bars and writes logs from what it is told here.
#pragma once
#include <functional>
#include <vector>

#include "mnistcnn/data/loader.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/optim/optimizer.h"
#include "mnistcnn/train/metrics.h"

namespace mnistcnn::train {

struct FitOptions {
  int epochs = 1;
  int first_epoch = 0;  // epochs already done (resume)
};

struct BatchProgress {
  int epoch = 0, epochs = 0;     // epoch is 1-based
  int64_t batch = 0, batches = 0;  // batches done in this epoch
  int64_t step = 0;              // optimizer steps since the start
  double loss = 0, accuracy = 0;  // running means over this epoch so far
  double batch_loss = 0;
  double elapsed_s = 0;          // since the epoch started
  int64_t images = 0;            // images done in this epoch
};

struct EvalResult {
  double loss = 0;
  ConfusionMatrix confusion{10};
  std::vector<int32_t> predictions;  // per example, in loader order
  double accuracy() const { return confusion.accuracy(); }
  int64_t count() const { return confusion.total(); }
};

struct EpochResult {
  int epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  bool has_val = false;
  double val_loss = 0, val_accuracy = 0;
  double epoch_seconds = 0;  // training only, evaluation excluded
  double eval_seconds = 0;
  int64_t steps = 0;         // optimizer steps since the start
  double lr = 0;
};

struct Callbacks {
  std::function<void(const BatchProgress&)> on_batch;
  std::function<void(const EpochResult&)> on_epoch;
};

// Trains `net` with cross-entropy on its logits (a trailing softmax is left out and the
// fused loss used instead, which has the same gradient and cannot overflow). Throws
// Error naming the epoch and step if the loss becomes NaN or infinite.
std::vector<EpochResult> fit(nn::Sequential& net, optim::Optimizer& opt, data::Loader& train,
                             data::Loader* val, const FitOptions& options, const Callbacks& callbacks = {});

// Loss and confusion matrix of `net` over the whole loader, in Eval mode.
EvalResult evaluate(nn::Sequential& net, data::Loader& data);

}  // namespace mnistcnn::train
