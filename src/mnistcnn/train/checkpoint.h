// Checkpoints: a model file (loadable by eval and predict) that also holds the optimizer
// state ("optimizer/0.weight/exp_avg", per-parameter step counts), the training state
// (epoch, batch within it, running sums, history), the schedule's state, every layer's
// random stream and a record of the run (seed, batch size, data fingerprint...) that a
// resume must match. Written atomically; CheckpointDir keeps the last K and the best.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "mnistcnn/io/model_file.h"
#include "mnistcnn/optim/optimizer.h"
#include "mnistcnn/optim/schedule.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::train {

inline constexpr int kCheckpointFormatVersion = 1;
// TrainState::held, under the optimizer prefix so that loading a checkpoint as a model
// (io::load_weights) takes the network's own weights and ignores these.
inline constexpr const char* kEmaPrefix = "optimizer/ema/";
inline constexpr const char* kBestPrefix = "optimizer/best/";

struct Checkpoint {
  nn::Sequential net;
  io::ModelInfo info;
  TrainState state;
  std::string optimizer;                             // its name(): sgd | adam | adamw
  int64_t optimizer_steps = 0;
  std::map<std::string, Tensor> optimizer_state;     // "0.weight/exp_avg"
  std::map<std::string, int64_t> param_steps;
  std::map<std::string, double> schedule_state;
  std::map<size_t, Rng::State> layer_rngs;           // by layer index
  std::map<std::string, std::string> run;            // what a resume must match
};

void save_checkpoint(const std::string& path, nn::Sequential& net, optim::Optimizer& opt,
                     const optim::Schedule* schedule, const TrainState& state, const io::ModelInfo& info,
                     const std::map<std::string, std::string>& run);
// Throws Error naming the file for anything damaged or inconsistent (including a plain
// model file, which has no training state).
Checkpoint load_checkpoint(const std::string& path);
// Puts the checkpoint's state into `opt` (built over the checkpoint's network) and the
// layers' random streams into `net`; Error when the optimizer kind or a tensor differs.
void restore_training(const Checkpoint& ckpt, nn::Sequential& net, optim::Optimizer& opt,
                      optim::Schedule* schedule, const std::string& path);

// The checkpoints of one run in a directory: ckpt-eEEEE-sSSSSSSSS.safetensors, the last
// `keep_last` of them kept, and best.safetensors (by validation accuracy, else training
// loss) rewritten whenever an epoch beats it.
class CheckpointDir {
 public:
  CheckpointDir(std::string dir, int keep_last);
  // Writes a checkpoint after `state` (epoch/batch/step) and prunes old ones; returns its path.
  std::string write(nn::Sequential& net, optim::Optimizer& opt, const optim::Schedule* schedule,
                    const TrainState& state, const io::ModelInfo& info,
                    const std::map<std::string, std::string>& run);
  // After an epoch: writes best.safetensors when the epoch is the best so far.
  bool write_best_if_improved(nn::Sequential& net, optim::Optimizer& opt, const optim::Schedule* schedule,
                              const TrainState& state, const io::ModelInfo& info,
                              const std::map<std::string, std::string>& run);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int keep_last_;
};

// The newest loadable checkpoint (highest step) in DIR; empty when there is none.
std::string latest_checkpoint(const std::string& dir);

}  // namespace mnistcnn::train
