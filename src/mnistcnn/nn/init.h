// Weight initialisers shared by the layers with parameters. fan_in/fan_out follow
// PyTorch: for a conv, in_channels·KH·KW and out_channels·KH·KW.
#pragma once
#include <string>

#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

void init_weight_and_bias(Init init, Rng& rng, int64_t fan_in, int64_t fan_out, Tensor& weight,
                          Tensor* bias);

Init parse_init(const std::string& name);  // "torch" | "glorot-uniform"
std::string init_name(Init init);

}  // namespace mnistcnn::nn
