// The one registry from a layer kind to its factory. The spec parser, model files and
// the CLI's help all go through it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "mnistcnn/nn/layer.h"
#include "mnistcnn/nn/spec.h"

namespace mnistcnn::nn {

struct LayerKind {
  std::string kind;                  // canonical name, as spec() writes it
  std::vector<std::string> aliases;  // also accepted: "conv2d", "linear", ...
  std::string usage;                 // "conv(out_channels, kernel, stride=1, pad=0, bias=true)"
  std::function<LayerPtr(LayerArgs&)> make;
};

const std::vector<LayerKind>& layer_kinds();
// Builds one layer; throws Error naming the layer text for unknown kinds or bad args.
LayerPtr make_layer(const LayerSpec& spec);

}  // namespace mnistcnn::nn
