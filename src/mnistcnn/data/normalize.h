// Input normalisation: a pixel byte b becomes (b/255 − mean) / std. Chosen per run,
// stored in the model file, and applied identically by eval, predict and the server.
#pragma once
#include <string>

namespace mnistcnn::data {

struct Normalization {
  float mean = 0.0f;
  float std = 1.0f;

  static Normalization scale() { return {0.0f, 1.0f}; }               // b/255 in [0, 1]
  static Normalization standardize() { return {0.1307f, 0.3081f}; }   // MNIST's mean/std
  // "scale" | "standardize" | "MEAN,STD"; throws Error otherwise.
  static Normalization parse(const std::string& text);
  std::string name() const;  // "scale", "standardize" or "MEAN,STD"
  float apply(float unit) const { return (unit - mean) / std; }  // unit = b/255
};

}  // namespace mnistcnn::data
