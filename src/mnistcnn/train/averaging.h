// Weights kept beside the network during training: an exponential moving average of the
// parameters (timm's ModelEmaV2) and the best epoch's weights for early stopping (Keras'
// restore_best_weights). They live in TrainState so checkpoints carry them and a resume
// continues bit for bit.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "mnistcnn/nn/sequential.h"

namespace mnistcnn::train {

enum class Monitor { ValAccuracy, ValLoss };

using NamedWeights = std::map<std::string, Tensor>;  // by parameter name ("0.weight")

struct HeldWeights {
  NamedWeights ema;   // empty until the first step with EMA on
  NamedWeights best;  // the weights validated at the best epoch so far
};

// ema = decay·ema + (1−decay)·w for parameters (computed in double, stored as float);
// buffers (batch-norm running statistics) are copied. An empty `ema` starts as a copy.
void ema_update(NamedWeights& ema, const std::vector<nn::Param*>& params, double decay);
// A copy of every parameter and buffer.
NamedWeights snapshot(const std::vector<nn::Param*>& params);
// Exchanges the network's values with `w` (same names and shapes, else Error); calling it
// twice puts everything back.
void swap_weights(NamedWeights& w, const std::vector<nn::Param*>& params);
// Copies `w` into the network.
void load_weights(const NamedWeights& w, const std::vector<nn::Param*>& params);

// Does `v` improve on `best` for the monitored metric by more than min_delta?
bool improves(Monitor m, double v, double best, double min_delta);
const char* monitor_name(Monitor m);  // "val_accuracy" | "val_loss"

}  // namespace mnistcnn::train
