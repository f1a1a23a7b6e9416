// A hyperparameter search: every configuration trained by a child `train` process (in
// parallel), validated on held-out training data (--val-split, or K folds), never on the
// test set; optionally by successive halving over epochs. Reports through callbacks; the
// CLI writes the files and prints.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "mnistcnn/search/results.h"
#include "mnistcnn/search/space.h"

namespace mnistcnn::search {

struct SearchOptions {
  std::string program;            // the mnistcnn binary (the CLI passes /proc/self/exe)
  std::vector<std::string> base;  // train flags every trial gets
  std::vector<Config> configs;
  double val_split = 0.1;         // used when folds == 0
  int folds = 0;                  // K-fold: each configuration trained K times (--val-fold i/K)
  int halving = 0;                // successive halving factor eta; 0: off
  int min_epochs = 1, max_epochs = 0;
  int parallel = 1;               // trials at once
  int threads = 1;                // --threads per trial, unless base gives it
  std::string trial_dir;          // models (and halving's checkpoints) of the trials
  bool keep_models = false;       // otherwise a trial's files go once they are not needed
};

struct SearchCallbacks {
  std::function<void(const std::string&)> note;
  // After each finished trial, with every trial so far (for trials.jsonl).
  std::function<void(const TrialResult&, const std::vector<TrialResult>&)> on_trial;
};

struct SearchOutcome {
  std::vector<TrialResult> trials;
  bool complete = true;   // false: *stop ended it
  bool resumed_rungs = false;  // halving continued each survivor from its checkpoint
};

// The flags a trial may not be given (the search sets them): checked on base and configs.
const std::vector<std::string>& reserved_flags();

// Runs the search. Before any training, each configuration's flags are checked by
// `train --dry-run` (fast, no data read): refused configurations are recorded with status
// "invalid"; when all are refused, Error with train's message. When the first trials to
// finish (3, or all if fewer) all fail with the same message and none has succeeded, the
// search stops with an Error carrying that message. Other failures are recorded and the
// search goes on.
SearchOutcome run_search(const SearchOptions& o, const SearchCallbacks& cb, const std::atomic<bool>* stop);

}  // namespace mnistcnn::search
