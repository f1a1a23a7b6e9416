// Input normalisation: a pixel byte b becomes (b/255 − mean) / std, after the image is
// deskewed (data/deskew.h) when `deskew` is set and its width normalised
// (data/width_normalize.h) when `width` is. Chosen per run, stored in the model file, and
// applied identically by training, eval, ensembles, predict, explain and the server.
#pragma once
#include <cstdint>
#include <string>

namespace mnistcnn::data {

struct Normalization {
  float mean = 0.0f;
  float std = 1.0f;
  bool deskew = false;
  int64_t width = 0;  // > 0: the ink's bounding box scaled to this many pixels wide

  static constexpr int64_t kMaxWidth = 4096;  // parse's and the model reader's bound
  static Normalization scale() { return {0.0f, 1.0f}; }               // b/255 in [0, 1]
  static Normalization standardize() { return {0.1307f, 0.3081f}; }   // MNIST's mean/std
  // "scale" | "standardize" | "MEAN,STD", optionally followed by "+deskew" and then
  // "+width=N" (1 <= N <= kMaxWidth); throws Error otherwise.
  static Normalization parse(const std::string& text);
  std::string name() const;  // "scale", "standardize" or "MEAN,STD", then "+deskew", "+width=N"
  float apply(float unit) const { return (unit - mean) / std; }  // unit = b/255
  // True when the model sees the digit reshaped (deskewed or width-normalised), not as drawn.
  bool reshapes() const { return deskew || width > 0; }

 private:
  static Normalization parse_pixels(const std::string& text, const std::string& full);
};

// The image as a model with this normalisation sees it before the pixel scaling: deskewed,
// then width-normalised, as set, and each value rounded to MNIST's 256 grey levels (k/255)
// so that the loader's bytes and the predict path agree exactly; a plain copy when norm
// reshapes nothing. src, dst: H×W values in [0, 1], not aliased. Throws Error for a width
// wider than the image.
void to_model_view(const Normalization& norm, const float* src, float* dst, int64_t H, int64_t W);

}  // namespace mnistcnn::data
