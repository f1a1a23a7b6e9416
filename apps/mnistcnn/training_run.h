// What `train` and `finetune` share once the network, optimizer and data are set up:
// progress, JSONL log, checkpoints, resume checks, SIGINT/SIGTERM, the final model file
// and the test evaluation.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "augment_args.h"
#include "data_args.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/optim/schedule.h"
#include "mnistcnn/train/checkpoint.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::cli {

struct RunFlags {
  std::string out, log_path, checkpoint_dir, resume, on_nan = "stop", schedule = "constant";
  double label_smoothing = 0, max_norm = 0;
  int early_stop = 0;                   // patience in epochs; 0: off
  std::string monitor = "val_accuracy";  // what --early-stop watches
  double ema = 0;                        // EMA decay; 0: off
  double stop_at = 0;                    // target validation accuracy (fraction); 0: off
  std::string l1, l2;                    // penalty specs (optim::parse_penalty); "": none
  AugmentArgs augment;
  int log_every = 0, keep_last = 3;
  int64_t checkpoint_every = 0;
  bool quiet = false, as_json = false;
};
// --out is added by each command (its default differs).
void add_run_flags(CLI::App* cmd, RunFlags& f);
// --early-stop and --stop-at watch the validation after each epoch: refuses them when
// there is none (--no-val).
void check_needs_validation(const RunFlags& f, bool validates);

// Thrown when a signal stopped training after its checkpoint was written; main exits
// with `code` (128 + signal number).
struct StoppedBySignal {
  int code;
};

struct TrainingJob {
  nn::Sequential* net = nullptr;
  optim::Optimizer* opt = nullptr;
  optim::Schedule* schedule = nullptr;
  data::Loader* train = nullptr;
  data::Loader* val = nullptr;  // may be null
  data::Loader* test = nullptr;  // null: no test evaluation (--no-test)
  int epochs = 1;
  io::ModelInfo info;                       // classes, normalization, provenance so far
  std::map<std::string, std::string> run;   // what a resume must match
  train::TrainState state;                  // fresh, or from the checkpoint resumed
  std::function<void(const train::TrainState&)> on_epoch_start;
  nlohmann::json recipe;                    // for --json
};

// Training, validation and test loaders over a data directory, as train and finetune
// both set them up: --limit (a seeded subset), --val-split (held out from training;
// 0 validates on the test set, as the seed recipes do), --val-fold, --no-val, --no-test
// (then `test` is null).
struct DataFlags {
  DataArgs source;  // --data (IDX or image folder), --classes, --per-class, ...
  int64_t limit = 0;
  double val_split = 0;
  std::string val_fold;   // "I/K": validate on fold I of K (data/folds.h); exclusive with --val-split
  uint64_t fold_seed = 0;
  bool no_val = false;
  bool no_test = false;   // never evaluate the test set (nor validate on it)
};
void add_data_flags(CLI::App* cmd, DataFlags& f);

// The (training, held-out) indices into train_set that --limit and --val-split or --val-fold
// pick, the same for train, finetune, eval and ensemble. Error when no training image is left.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_training_images(const data::Dataset& train_set,
                                                                            const DataFlags& f, uint64_t seed);

struct PreparedData {
  std::unique_ptr<LoadedData> data;  // the loaders point into it
  std::unique_ptr<data::Loader> train, val, test;
  std::string val_name;  // for the log
  int num_classes() const { return data->train.num_classes; }
};
// align_to: a model's class names (fine-tuning without a new head); see load_data.
PreparedData prepare_data(const DataFlags& f, int64_t batch_size, uint64_t seed, const data::Normalization& norm,
                          bool quiet, const std::vector<std::string>* align_to = nullptr);

// What can be checked of the run flags before any data is read (penalty groups against the
// network, --val-fold, augmentation, --no-test without held-out validation): for --dry-run.
void check_without_data(const RunFlags& f, const DataFlags& d, nn::Sequential& net);

// The checkpoint a --resume PATH names: the file, or the newest loadable one in a directory.
train::Checkpoint load_resume(const std::string& path, std::string& resolved);
// Refuses a checkpoint of another architecture, other data or another recipe (naming the
// difference); `free_keys` may differ (a note is printed).
void check_resume(const train::Checkpoint& ck, const std::string& path, const std::string& arch,
                  const std::map<std::string, std::string>& run, bool quiet);

// What every run's resume check compares (seed, batch size, optimizer, the training data's
// fingerprint) and what may change on resume (epochs, lr, schedule); commands add their own.
std::map<std::string, std::string> base_run_record(uint64_t seed, int64_t batch_size, const std::string& optimizer,
                                                   const data::Loader& train, int epochs, double lr,
                                                   const std::string& schedule);

// The run's regularisation (and --early-stop, --ema), as the resume check and the provenance record it; the
// augmentation is set on the training loader.
void apply_regularisation(const RunFlags& f, data::Loader& train, std::map<std::string, std::string>& run,
                          std::map<std::string, std::string>& provenance);

// --resume: after check_resume, the checkpoint's network, optimizer state (in an optimizer
// remade by `make_optimizer` over its parameters), schedule state and training position
// replace the fresh ones in `net`, `opt`, `schedule` and job.state.
void resume_job(const RunFlags& f, TrainingJob& job, nn::Sequential& net, std::unique_ptr<optim::Optimizer>& opt,
                const std::function<std::unique_ptr<optim::Optimizer>(nn::Sequential&)>& make_optimizer,
                optim::Schedule& schedule, int epochs);

// Trains, writes the model file and prints the test result (or one JSON object).
void run_training_job(TrainingJob& job, const RunFlags& f);

std::string fmt(const char* f, double v);

}  // namespace mnistcnn::cli
