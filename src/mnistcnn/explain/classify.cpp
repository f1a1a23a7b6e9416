#include "mnistcnn/explain/classify.h"

#include <cmath>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/png.h"
#include "mnistcnn/kernels/activation.h"

namespace mnistcnn::explain {

void require_digit_model(const io::ModelInfo& info, const std::string& name) {
  const Shape& in = info.input;
  if (in.rank() != 3 || in[0] != 1 || in[1] != 28 || in[2] != 28)
    throw Error(name + ": needs a model for 1×28×28 images, this one takes " + in.str());
}

data::DigitImage digit_from_png(const uint8_t* bytes, size_t size, const std::string& name) {
  return data::to_mnist_digit(io::decode_png_gray(bytes, size, name));
}

data::DigitImage digit_from_pixels(std::span<const float> pixels, bool preprocess) {
  if (pixels.size() != 784)
    throw Error("pixels: expected 784 values (28×28, row-major), got " + std::to_string(pixels.size()));
  data::GrayImage img;
  img.width = img.height = 28;
  img.value.resize(784);
  for (size_t i = 0; i < 784; ++i) {
    const float v = pixels[i];
    if (!std::isfinite(v) || v < 0.0f || v > 1.0f)
      throw Error("pixels: value " + std::to_string(i) + " (row " + std::to_string(i / 28) + ", column " +
                      std::to_string(i % 28) + ") is " + std::to_string(v) + ", expected a number in [0, 1]",
                  "send ink as 1 and background as 0, as MNIST's bytes divided by 255");
    img.value[i] = v;
  }
  if (preprocess) return data::to_mnist_digit(img);
  data::DigitImage d;
  d.blank = true;
  for (size_t i = 0; i < 784; ++i) {
    d.pixels[i] = img.value[i];
    d.blank = d.blank && img.value[i] == 0.0f;
  }
  return d;
}

data::DigitImage model_view(const data::DigitImage& digit, const data::Normalization& norm) {
  if (!norm.reshapes() || digit.blank) return digit;
  data::DigitImage seen;
  data::to_model_view(norm, digit.pixels.data(), seen.pixels.data(), 28, 28);
  return seen;
}

Tensor views_to_input(std::span<const data::DigitImage> views, const data::Normalization& norm) {
  const auto n = static_cast<int64_t>(views.size());
  Tensor x({n, 1, 28, 28});
  for (int64_t i = 0; i < n; ++i)
    for (int p = 0; p < 784; ++p) x[i * 784 + p] = norm.apply(views[static_cast<size_t>(i)].pixels[static_cast<size_t>(p)]);
  return x;
}

Tensor digits_to_input(std::span<const data::DigitImage> digits, const data::Normalization& norm) {
  std::vector<data::DigitImage> views;
  views.reserve(digits.size());
  for (const auto& d : digits) views.push_back(model_view(d, norm));
  return views_to_input(views, norm);
}

Tensor class_probabilities(nn::Sequential& net, const Tensor& x) {
  const Tensor& logits = net.forward(x, nn::Mode::Eval, net.logits_end());
  if (logits.shape().rank() != 2)
    throw Error("the network ends in " + logits.shape().str() + ", not N×classes scores");
  const int64_t n = logits.dim(0), c = logits.dim(1);
  Tensor probs({n, c});
  kernels::softmax_rows(logits.data(), probs.data(), n, c);
  return probs;
}

}  // namespace mnistcnn::explain
