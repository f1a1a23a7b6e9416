// Named networks with the training recipe of the source each comes from. `mnistcnn
// train --preset NAME` runs the recipe; any flag overrides a part of it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "mnistcnn/nn/layer.h"
#include "mnistcnn/optim/optimizer.h"

namespace mnistcnn::train {

struct Recipe {
  std::string optimizer = "adam";  // sgd | adam | adamw
  double lr = 1e-3;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  double adam_eps = 1e-8;
  bool adam_epsilon_hat = false;  // Keras' Adam (see optim::AdamOptions)
  int64_t batch_size = 32;
  int epochs = 5;
  std::string normalization = "scale";  // see data::Normalization::parse
  nn::Init init = nn::Init::Torch;
  // The regularisation a recipe comes with (the train flags of the same names override each).
  std::string schedule = "constant";  // see optim::parse_schedule
  std::string augment = "none";       // see data::parse_augment
  double label_smoothing = 0.0;
  double ema = 0.0;                   // EMA decay of the weights; 0: off
  // false: no validation after each epoch unless --val-split asks for it (the recipe trains
  // on all training images and its number is the one test evaluation at the end).
  bool validate = true;
  // Time to accuracy: end after the first epoch whose validation accuracy reaches this; 0: off.
  double stop_at = 0.0;
};

struct Preset {
  std::string name;
  std::string spec;
  std::string source;  // where the network and recipe come from
  Recipe recipe;
};

const std::vector<Preset>& presets();
// nullptr when there is no preset of that name.
const Preset* find_preset(const std::string& name);
std::string preset_names();  // "keras-mnist, lenet, ..."

// The optimizer a recipe names, over `params`; throws Error for unknown names.
std::unique_ptr<optim::Optimizer> make_optimizer(const Recipe& r, std::vector<nn::Param*> params);

}  // namespace mnistcnn::train
