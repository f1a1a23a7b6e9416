// Small digit models for the explain and serve tests, built in memory (random weights
// from a seed) so the tests need no training and no files.
#pragma once
#include <string>

#include "mnistcnn/io/model_file.h"

namespace mnistcnn::testing {

inline io::LoadedModel digit_model(const std::string& spec = "conv(4,3) relu maxpool(2) conv(6,3) relu flatten dense(10)",
                                   uint64_t seed = 3) {
  io::LoadedModel m;
  m.net = nn::Sequential::from_spec(spec, {1, 28, 28});
  m.net.init(nn::Init::Torch, seed);
  m.info.arch = m.net.spec();
  m.info.normalization = data::Normalization::standardize();
  return m;
}

// A digit-like image: a thick ring (a "0") of the given radius, in MNIST's form.
inline data::DigitImage ring_digit(float radius = 7.0f, float cx = 14.0f, float cy = 14.0f) {
  data::DigitImage d;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const float r = std::hypot(x - cx, y - cy);
      d.pixels[static_cast<size_t>(y * 28 + x)] = std::max(0.0f, 1.0f - std::abs(r - radius) / 2.0f);
    }
  return d;
}

}  // namespace mnistcnn::testing
