// The training loop and evaluation. The library reports through callbacks and never
// prints: the CLI draws progress bars, writes logs and checkpoints from what it is told.
// Everything the loop carries from one step to the next is in TrainState, so a run can
// stop after any step and continue bit for bit from a checkpoint of it.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "mnistcnn/data/loader.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/optim/optimizer.h"
#include "mnistcnn/optim/penalty.h"
#include "mnistcnn/optim/schedule.h"
#include "mnistcnn/train/averaging.h"
#include "mnistcnn/train/metrics.h"

namespace mnistcnn::train {

enum class OnNan { Stop, Skip };

struct BatchProgress {
  int epoch = 0, epochs = 0;       // epoch is 1-based
  int64_t batch = 0, batches = 0;  // batches done in this epoch
  int64_t step = 0;                // optimizer steps since the start
  double loss = 0, accuracy = 0;   // running means over this epoch so far
  double batch_loss = 0;
  double lr = 0;
  double elapsed_s = 0;            // since the epoch (or the resumed part of it) started
  int64_t images = 0;              // images done in this epoch
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
  int64_t skipped = 0;       // batches skipped for a non-finite loss or gradient
  double lr = 0;             // rate of the epoch's last update
};

// Where a run stands: the epoch in progress and how far into it, the running sums of
// that epoch, and the results of finished epochs.
struct TrainState {
  int epoch = 0;        // 0-based: epochs [0, epoch) are finished
  int64_t batch = 0;    // batches of `epoch` done (in the loader's order for that epoch)
  double loss_sum = 0;  // over the batches of `epoch` done
  int64_t correct = 0, seen = 0, skipped = 0;
  double seconds = 0;   // training time of `epoch` so far
  std::vector<EpochResult> history;
  bool stopped = false;  // fit returned early because options.stop was set
  // EMA and best weights. Shared, not copied, between the copies of the state that the
  // callbacks get (they are whole networks); fit creates it when an option needs it.
  std::shared_ptr<HeldWeights> held;
  // Set when fit returns at the end of the run: early stopping ended it (the patience ran
  // out), and the epoch whose weights the network now holds (0: the last step's, or EMA).
  bool early_stopped = false;
  int restored_epoch = 0;
  bool reached_target = false;  // an epoch's validation accuracy reached target_accuracy
};

struct FitOptions {
  int epochs = 1;
  const optim::Schedule* schedule = nullptr;  // nullptr: the optimizer's rate throughout
  optim::Schedule* plateau = nullptr;         // the same schedule, told each epoch's metric
  double label_smoothing = 0;                 // PyTorch's CrossEntropyLoss(label_smoothing=)
  double max_norm = 0;                        // Keras' MaxNorm after every step; 0: off
  // Keras' kernel_regularizer: its value is added to each batch's training loss (so the
  // reported loss includes it, as in Keras) and its gradient to the parameters' before
  // the step. Validation loss stays the plain cross-entropy. nullptr: none.
  const optim::Penalty* penalty = nullptr;
  OnNan on_nan = OnNan::Stop;
  int64_t max_consecutive_skips = 100;        // OnNan::Skip gives up after this many in a row
  const std::atomic<bool>* stop = nullptr;    // checked after every step
  // Keras' EarlyStopping(patience, min_delta, restore_best_weights=True): end the run once
  // the monitored validation metric has not improved for `early_stop_patience` epochs
  // (0: off; needs a validation loader). At the end of the run (stopped or not) the
  // network gets the weights of the best epoch back; Keras restores only on a stop.
  int early_stop_patience = 0;
  Monitor monitor = Monitor::ValAccuracy;
  double min_delta = 0;
  // An average of the weights updated after every step t (1-based) with decay
  // min(ema_decay, (1+t)/(10+t)), in (0, 1); 0: off. Validation uses the average, and at
  // the end of the run the network holds it.
  double ema_decay = 0;
  // Time to accuracy (as DAWNBench measures it): end the run after the first epoch whose
  // validation accuracy reaches this, in (0, 1]; 0: off.
  double target_accuracy = 0;
};

struct Callbacks {
  std::function<void(const TrainState&)> on_epoch_start;  // may change trainable flags
  std::function<void(const BatchProgress&)> on_batch;
  // After every optimizer step (or skipped batch), with the state a checkpoint needs.
  std::function<void(const TrainState&)> on_step;
  std::function<void(const EpochResult&, const TrainState&)> on_epoch;
  // A batch skipped (OnNan::Skip): 1-based epoch, the step it would have been, the loss.
  std::function<void(int, int64_t, double)> on_skip;
};

// Trains `net` with cross-entropy on its logits (a trailing softmax is left out and the
// fused loss used instead, which has the same gradient and cannot overflow), from
// `state` (fresh or restored from a checkpoint) to options.epochs. A NaN or infinite loss
// or gradient throws an Error naming the epoch and step (OnNan::Stop), before the update,
// so the weights are still those of the last good step; OnNan::Skip drops the batch.
// An early stop is no interruption: state.stopped stays false, state.early_stopped is set.
std::vector<EpochResult> fit(nn::Sequential& net, optim::Optimizer& opt, data::Loader& train, data::Loader* val,
                             const FitOptions& options, const Callbacks& callbacks, TrainState& state);
std::vector<EpochResult> fit(nn::Sequential& net, optim::Optimizer& opt, data::Loader& train, data::Loader* val,
                             const FitOptions& options, const Callbacks& callbacks = {});

// Loss and confusion matrix of `net` over the whole loader, in Eval mode.
EvalResult evaluate(nn::Sequential& net, data::Loader& data);

}  // namespace mnistcnn::train
