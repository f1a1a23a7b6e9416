// Reading the JSONL log `mnistcnn train --log` writes: one object per epoch (train and
// validation loss and accuracy) and, with --log-every, one per logged step.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mnistcnn::explain {

struct EpochRecord {
  int epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  std::optional<double> val_loss, val_accuracy;
  int64_t steps = 0;  // optimizer steps since the start, at the end of the epoch (0: unknown)
};

struct StepRecord {
  int64_t step = 0;
  int epoch = 0;
  double loss = 0;  // of that batch
};

struct TrainLog {
  std::vector<EpochRecord> epochs;
  std::vector<StepRecord> steps;
};

// Throws Error naming the file and line for unreadable JSON, a record that is neither
// kind, missing or non-finite fields, and a log without any epoch record. Blank lines
// are skipped.
TrainLog read_train_log(const std::string& path);

}  // namespace mnistcnn::explain
