// Choosing layers of a network by a short text, for freezing, learning-rate groups and
// head replacement: indices and ranges as numbered by `mnistcnn arch show` ("0-5", "3",
// "6-"), layer kinds ("conv", "dense"), and keywords: "features" (every layer before the
// first dense layer), "head" (the last dense layer and what follows), "all-but-last"
// (every layer before the last one with parameters), "all". Parts join with commas.
#pragma once
#include <string>
#include <vector>

#include "mnistcnn/nn/sequential.h"

namespace mnistcnn::nn {

// Sorted layer indices; Error naming the part that matches nothing or is malformed.
std::vector<size_t> select_layers(const Sequential& net, const std::string& text);
std::string selector_help();

// Index of the first layer of the classifier head: the last dense layer.
size_t head_start(const Sequential& net);

// Sets `trainable` on every parameter of the given layers.
void set_trainable(Sequential& net, const std::vector<size_t>& layers, bool trainable);

}  // namespace mnistcnn::nn
