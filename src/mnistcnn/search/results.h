// What a search records and reports: one TrialResult per child run (a line of
// trials.jsonl), the objective read from train's JSON, and the leaderboard of
// configurations (mean and spread over folds) as a Markdown table.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mnistcnn/search/space.h"

namespace mnistcnn::search {

struct TrialResult {
  int id = 0;       // 1-based, in the order trials finished
  int config = 0;   // 0-based index of the configuration
  int rung = 0;     // successive-halving rung (0 without halving)
  int fold = 0;     // 1-based fold of --folds; 0: --val-split
  Config flags;
  int epochs = 0;   // epochs trained (the last rung's count when resumed)
  std::string status = "ok";  // ok | failed | stopped
  double val_accuracy = 0, val_loss = 0, train_seconds = 0;
  int scored_epoch = 0;       // the epoch whose validation is the objective
  std::string error;          // failed: the child's last stderr line
  std::string model;          // --keep-models: the trial's model file (a later rung's trains over it)
};
nlohmann::json to_json(const TrialResult& t);

// Fills val_accuracy, val_loss, scored_epoch, epochs and train_seconds from train's --json
// output: the objective is the last epoch's validation, or the restored best epoch's
// when early stopping (restored_epoch > 0) put those weights back. Error when the output
// is not that JSON or has no validation.
void read_train_output(const std::string& stdout_text, TrialResult& t);

// The error a failed train run reports, from its stderr: the last "mnistcnn: error: "
// message with its hint on one line, or else the last line that is not CLI11's "Run with
// --help" advice.
std::string train_error(const std::string& stderr_text);

struct Leader {
  int config = 0, rung = 0, epochs = 0;
  Config flags;
  int trials = 0, failed = 0;
  double accuracy = 0, accuracy_std = 0, loss = 0, seconds = 0;  // over its folds at that rung
  std::string error;                                             // of a failed trial
  bool ok() const { return failed == 0 && trials > 0; }
};
// One row per configuration, from its trials at the highest rung it reached: configurations
// that got further rank first, then higher mean accuracy, then lower mean loss; failed last.
// accuracy_std is the sample standard deviation over folds (0 with one).
std::vector<Leader> leaderboard(const std::vector<TrialResult>& trials);

// The table of summary.md and of the terminal: rank, score (± std with folds), loss,
// epochs, seconds, the flags.
std::string markdown_table(const std::vector<Leader>& rows, bool folds);

}  // namespace mnistcnn::search
