// What `mnistcnn explain` draws: heat-maps over the digit the network saw, the first
// layer's filters, and each conv layer's feature maps for one image.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/explain/canvas.h"
#include "mnistcnn/io/model_file.h"

namespace mnistcnn::explain {

// The 28×28 digit in grey, each pixel a scale×scale block, with `heat` (784 values in
// [0, 1], or empty for none) laid over it in the inferno map, and a caption below.
Canvas heatmap_over_digit(const data::DigitImage& digit, const std::vector<float>& heat, int scale,
                          const std::string& caption);

// The weights of layer `layer` (a conv) as a grid: one tile per output channel, its
// input channels side by side, blue negative, red positive, white 0 (one scale for all).
Canvas filter_grid(nn::Sequential& net, size_t layer);

// The output of layer `layer` in net's last forward (1×K×h×w) as a grid of K maps, each
// scaled to its own range (viridis from 0 when non-negative, diverging around 0 otherwise).
Canvas feature_grid(const nn::Sequential& net, size_t layer);

struct ExplainSummary {
  int label = -1;       // predicted class
  int explained = -1;   // the class the maps explain (the predicted one unless asked)
  std::vector<float> probabilities;
  std::vector<std::string> files;  // written, in order
};

// Classifies `digit` with `net`, then writes into `dir` (created if missing): input.png
// (what the network saw), saliency.png, gradcam.png (when the net has a conv layer),
// filters.png (the first conv layer), features_<i>.png for every conv layer i, and
// explain.json. `target` picks the class to explain. Throws Error for a blank digit.
ExplainSummary write_explanation(nn::Sequential& net, const io::ModelInfo& info, const data::DigitImage& digit,
                                 const std::string& dir, std::optional<int> target = std::nullopt);

}  // namespace mnistcnn::explain
