// Small digit models for the explain and serve tests, built in memory (random weights
// from a seed) so the tests need no training and no files.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "mnistcnn/explain/classify.h"
#include "mnistcnn/explain/predictor.h"
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

// The predictor (server, predict) of digit_model() with normalisation `norm` shows `seen`
// for `digit` (the model's view of it) and gives exactly the network's probabilities for
// that view under the pixel scaling alone.
inline void expect_predictor_classifies_view(const data::Normalization& norm, const data::DigitImage& digit,
                                             const data::DigitImage& seen) {
  io::LoadedModel m = digit_model();
  m.info.normalization = norm;
  nn::Sequential net = nn::Sequential::from_spec(m.info.arch);
  for (size_t i = 0; i < net.params().size(); ++i) net.params()[i]->value = m.net.params()[i]->value;
  const explain::Predictor predictor(std::move(m));
  const explain::Prediction p = predictor.predict(digit, true);
  EXPECT_EQ(p.input.pixels, seen.pixels);
  const Tensor want = explain::class_probabilities(net, explain::views_to_input({&seen, 1}, norm));
  ASSERT_EQ(p.probabilities.size(), 10u);
  for (size_t c = 0; c < 10; ++c) EXPECT_EQ(p.probabilities[c], want[static_cast<int64_t>(c)]) << c;
}

}  // namespace mnistcnn::testing
