// Model files: safetensors holding the parameters and buffers under their PyTorch names
// ("0.weight", OC×C×KH×KW for convs, out×in for dense layers, "1.running_mean") and, in
// __metadata__, the architecture spec, input shape, normalisation, class names and
// provenance, so that a file alone is enough to rebuild, evaluate and run the model.
// num_batches_tracked (an int64 scalar in PyTorch) is written as F32 of shape [1], which
// PyTorch's load_state_dict accepts, and PyTorch's I64 scalar reads back as shape [1].
#pragma once
#include <map>
#include <string>
#include <vector>

#include "mnistcnn/data/normalize.h"
#include "mnistcnn/nn/sequential.h"

namespace mnistcnn::io {

inline constexpr int kModelFormatVersion = 1;

struct ModelInfo {
  std::string arch;                             // spec line
  Shape input{1, 28, 28};                       // C×H×W
  data::Normalization normalization;
  std::vector<std::string> classes;             // empty: "0".."9"
  std::map<std::string, std::string> provenance;  // preset, recipe, seed, accuracy, date...
};

struct LoadedModel {
  nn::Sequential net;
  ModelInfo info;
};

// Written atomically (temporary file + rename).
void save_model(const std::string& path, nn::Sequential& net, const ModelInfo& info);
// Rebuilds the architecture from the metadata and loads every parameter; a missing,
// extra or mis-shaped tensor is an Error naming the file and the tensor.
LoadedModel load_model(const std::string& path);

// Class names of a model (its own, or "0".."C-1").
std::vector<std::string> class_names(const ModelInfo& info, int64_t classes);

}  // namespace mnistcnn::io
