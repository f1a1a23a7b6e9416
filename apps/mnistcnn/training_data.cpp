// The data side of train and finetune: the data flags (--limit, --val-split, --val-fold,
// --no-val, --no-test), the training/validation/test loaders they ask for, and the
// checks --dry-run can make without reading any data.
#include <tuple>

#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/folds.h"
#include "mnistcnn/optim/penalty.h"
#include "training_run.h"

namespace mnistcnn::cli {

void add_data_flags(CLI::App* cmd, DataFlags& f) {
  add_data_options(cmd, f.source);
  auto* split = cmd->add_option("--val-split", f.val_split, "fraction of the training images held out for validation "
                                                            "(0: validate on the test set, as the seeds do)")
                    ->check(finite_number())->check(CLI::Range(0.0, 0.9));
  auto* fold = cmd->add_option("--val-fold", f.val_fold,
                               "I/K: validate on the I-th of K stratified folds of the training images (shuffled "
                               "with --fold-seed) and train on the others; for cross-validation")
                   ->excludes(split);
  cmd->add_option("--fold-seed", f.fold_seed, "seed of the --val-fold shuffle (fixed, so that every run sees the same folds)")
      ->capture_default_str();
  cmd->add_flag("--no-val", f.no_val, "no validation after each epoch")->excludes(fold);
  cmd->add_flag("--no-test", f.no_test, "do not evaluate the test set at the end (nor validate on it), nor read an IDX directory's test files: for model selection");
  cmd->add_option("--limit", f.limit, "train on a seeded random subset of this many training images")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_training_images(const data::Dataset& train_set,
                                                                            const DataFlags& f, uint64_t seed) {
  std::vector<int64_t> pool;
  if (f.limit > 0) {
    const int64_t n = std::min(f.limit, train_set.size());
    pool = data::permutation(train_set.size(), seed, 0x11A17);
    pool.resize(static_cast<size_t>(n));
  }
  std::vector<int64_t> train_idx, val_idx;
  if (!f.val_fold.empty()) {
    std::tie(train_idx, val_idx) = data::k_fold(train_set, pool, data::parse_fold(f.val_fold), f.fold_seed);
  } else {
    std::tie(train_idx, val_idx) =
        data::split_indices(pool.empty() ? train_set.size() : static_cast<int64_t>(pool.size()), f.val_split, seed);
    if (!pool.empty()) {
      for (auto& i : train_idx) i = pool[static_cast<size_t>(i)];
      for (auto& i : val_idx) i = pool[static_cast<size_t>(i)];
    }
  }
  if (train_idx.empty()) throw Error("--val-split " + fmt("%g", f.val_split) + " leaves no training images");
  return {std::move(train_idx), std::move(val_idx)};
}

PreparedData prepare_data(const DataFlags& f, int64_t batch_size, uint64_t seed, const data::Normalization& norm,
                          bool quiet, const std::vector<std::string>* align_to) {
  PreparedData d;
  d.data = std::make_unique<LoadedData>(load_data(f.source, seed, f.no_test ? DataParts::TrainOnly : DataParts::TrainAndTest, align_to));
  if (!quiet) {
    note(d.data->description);
    for (const auto& line : d.data->notes) note(line);
  }
  const data::Dataset& train_set = d.data->train;
  if (train_set.size() == 0) throw Error(f.source.data + ": no training images in the selection");
  const auto [train_idx, val_idx] = split_training_images(train_set, f, seed);
  d.train = std::make_unique<data::Loader>(train_set, train_idx, batch_size, true, seed, norm);
  const int64_t eval_batch = 64;  // as fast as 256 here, with a quarter of the activation memory
  if (!f.no_test)
    d.test = std::make_unique<data::Loader>(d.data->test, std::vector<int64_t>{}, eval_batch, false, seed, norm);
  d.val_name = "none";
  if (!f.no_val) {
    if (!val_idx.empty()) {
      d.val = std::make_unique<data::Loader>(train_set, val_idx, eval_batch, false, seed, norm);
      d.val_name = "held-out " + human_count(static_cast<int64_t>(val_idx.size())) + " training images" +
                   (f.val_fold.empty() ? "" : " (fold " + f.val_fold + ")");
    } else if (f.no_test) {
      throw Error("--no-test: validation would use the test set",
                  "hold out training images with --val-split 0.1 or --val-fold 1/5, or turn validation off with --no-val");
    } else {
      d.val = std::make_unique<data::Loader>(d.data->test, std::vector<int64_t>{}, eval_batch, false, seed, norm);
      d.val_name = "the test set (as the seed recipes do; use --val-split to hold out training data)";
    }
  }
  return d;
}

void check_without_data(const RunFlags& f, const DataFlags& d, nn::Sequential& net) {
  (void)optim::make_penalty(net, f.l1, f.l2);
  (void)resolve_augment(f.augment);
  if (!d.val_fold.empty()) (void)data::parse_fold(d.val_fold);
  if (d.no_test && !d.no_val && d.val_fold.empty() && d.val_split == 0)
    throw Error("--no-test: validation would use the test set", "hold out training images with --val-split or --val-fold");
  check_needs_validation(f, !d.no_val);
}

}  // namespace mnistcnn::cli
