// The one path from a picture to class probabilities, shared by `mnistcnn predict`,
// `mnistcnn explain` and the web server, so a canvas drawing posted to the server and the
// same PNG given to the command line are read by exactly the same code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/tensor/tensor.h"

namespace mnistcnn::explain {

// Throws Error naming `name` (the model file) unless the model takes 1×28×28 images.
void require_digit_model(const io::ModelInfo& info, const std::string& name);

// PNG bytes (any size, grey or colour, either polarity, with or without alpha) → the
// 28×28 digit in MNIST's form; `name` starts error messages.
data::DigitImage digit_from_png(const uint8_t* bytes, size_t size, const std::string& name);

// 784 values of a 28×28 picture, row-major, ink 1 on background 0 (an MNIST image /255).
// preprocess = false takes them as already in MNIST's form (what `eval` feeds the
// network; blank when all are 0); true runs them through to_mnist_digit as a PNG would
// be. Throws Error naming the first value that is not finite or not in [0, 1].
data::DigitImage digit_from_pixels(std::span<const float> pixels, bool preprocess);

// The digit as a model with this normalisation sees it, before the pixel scaling: when it
// deskews or normalises widths, data::to_model_view's result, as data::Loader serves it (so
// a digit predicted here and the same digit evaluated from an IDX file agree exactly);
// otherwise the digit itself. Saliency and the like are drawn over this.
data::DigitImage model_view(const data::DigitImage& digit, const data::Normalization& norm);

// N digits → the N×1×28×28 network input under the model's normalisation (model_view,
// then the pixel scaling).
Tensor digits_to_input(std::span<const data::DigitImage> digits, const data::Normalization& norm);

// The same for digits that are already model_view's output: the pixel scaling alone, for
// callers that keep the view to show it (reshaping twice would shear or scale a second time).
Tensor views_to_input(std::span<const data::DigitImage> views, const data::Normalization& norm);

// Softmax of the network's logits (a trailing softmax layer is left out and applied
// here): x N×1×28×28 → N×C. Runs forward in Eval mode on `net`'s own buffers.
Tensor class_probabilities(nn::Sequential& net, const Tensor& x);

}  // namespace mnistcnn::explain
