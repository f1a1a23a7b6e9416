// Input normalisation: a pixel byte b becomes (b/255 − mean) / std, after the image is
// deskewed (data/deskew.h) when `deskew` is set. Chosen per run, stored in the model file,
// and applied identically by training, eval, ensembles, predict, explain and the server.
#pragma once
#include <string>

namespace mnistcnn::data {

struct Normalization {
  float mean = 0.0f;
  float std = 1.0f;
  bool deskew = false;

  static Normalization scale() { return {0.0f, 1.0f}; }               // b/255 in [0, 1]
  static Normalization standardize() { return {0.1307f, 0.3081f}; }   // MNIST's mean/std
  // "scale" | "standardize" | "MEAN,STD", each optionally followed by "+deskew"; throws
  // Error otherwise.
  static Normalization parse(const std::string& text);
  std::string name() const;  // "scale", "standardize" or "MEAN,STD", and "+deskew"
  float apply(float unit) const { return (unit - mean) / std; }  // unit = b/255

 private:
  static Normalization parse_pixels(const std::string& text, const std::string& full);
};

}  // namespace mnistcnn::data
