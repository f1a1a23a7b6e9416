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
#include "mnistcnn/io/safetensors.h"
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

// What a non-strict load did, by tensor name.
struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> skipped;      // in the file, not used: "name (reason)"
  std::vector<std::string> initialised;  // in the network, not in the file: kept as initialised
};

struct WeightLoadOptions {
  bool strict = true;  // strict: anything skipped or left initialised is an Error
  // Layers from this index on keep their initial weights (a replaced head).
  size_t keep_from_layer = nn::Sequential::kAll;
  // Prefix renames applied to the file's tensor names first, e.g. {"conv1.", "0."} for a
  // PyTorch module with named children; the first matching prefix wins.
  std::vector<std::pair<std::string, std::string>> rename;
};

// "conv1.=0.,conv2.=3.,fc.=7." -> prefix pairs; Error naming the bad part.
std::vector<std::pair<std::string, std::string>> parse_renames(const std::string& text);

// The metadata a model file stores, besides the tensors.
std::map<std::string, std::string> model_metadata(const nn::Sequential& net, const ModelInfo& info);
// Written atomically (temporary file + rename).
void save_model(const std::string& path, nn::Sequential& net, const ModelInfo& info);
// Rebuilds the architecture from the metadata and loads every parameter; a missing,
// extra or mis-shaped tensor is an Error naming the file and the tensor. `arch`, when
// given, is used instead of the stored one (a PyTorch state_dict saved as safetensors
// has none). Checkpoints load too (their optimizer tensors are ignored).
LoadedModel load_model(const std::string& path, const std::string& arch = "",
                       const std::vector<std::pair<std::string, std::string>>& rename = {});
// Reads the ModelInfo of a parsed file's metadata (arch may come back empty).
ModelInfo read_model_info(const std::map<std::string, std::string>& meta, const std::string& path);
// Copies tensors of `file` into `net`'s parameters by name, as PyTorch's load_state_dict.
LoadReport load_weights(const SafetensorsFile& file, const std::string& path, nn::Sequential& net,
                        const WeightLoadOptions& options = {});
// Prefix of the optimizer-state tensors in a checkpoint, which weights loading ignores.
inline constexpr const char* kOptimizerPrefix = "optimizer/";

// SHA-256 (hex) of every parameter's float32 bytes, in parameter order: equal digests
// mean bit-identical weights, whatever the metadata says.
std::string weights_sha256(nn::Sequential& net);

// Class names of a model (its own, or "0".."C-1").
std::vector<std::string> class_names(const ModelInfo& info, int64_t classes);

}  // namespace mnistcnn::io
