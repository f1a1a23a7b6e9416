// The misclassified test digits: finding them (with the network's confidence in its
// mistake) and drawing them as a captioned grid.
#include <algorithm>
#include <cstdio>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/canvas.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/explain/plots.h"

namespace mnistcnn::explain {

namespace {

// The misclassified images as the model saw them, in the set's order, without their
// confidence yet.
std::vector<Misclassified> misclassified(const data::Dataset& test, const std::vector<int32_t>& predictions,
                                         const data::Normalization& norm) {
  if (static_cast<int64_t>(predictions.size()) != test.size())
    throw Error("find_errors: " + std::to_string(predictions.size()) + " predictions for " +
                std::to_string(test.size()) + " images");
  const int64_t pixels = test.rows * test.cols;
  if (pixels != 784) throw Error("find_errors: images are " + std::to_string(test.rows) + "x" + std::to_string(test.cols) + ", not 28x28");
  std::vector<Misclassified> out;
  for (int64_t i = 0; i < test.size(); ++i)
    if (predictions[static_cast<size_t>(i)] != test.labels[static_cast<size_t>(i)]) {
      Misclassified m;
      m.index = i;
      m.truth = test.labels[static_cast<size_t>(i)];
      m.predicted = predictions[static_cast<size_t>(i)];
      m.image = model_view(data::digit_from_mnist_bytes(test.images.data() + i * pixels), norm);
      out.push_back(m);
    }
  return out;
}

void most_confident_first(std::vector<Misclassified>& errors) {
  std::stable_sort(errors.begin(), errors.end(),
                   [](const Misclassified& a, const Misclassified& b) { return a.confidence > b.confidence; });
}

}  // namespace

std::vector<Misclassified> find_errors(nn::Sequential& net, const data::Normalization& norm, const data::Dataset& test,
                                       const std::vector<int32_t>& predictions) {
  std::vector<Misclassified> out = misclassified(test, predictions, norm);
  constexpr size_t kBatch = 256;
  for (size_t start = 0; start < out.size(); start += kBatch) {
    std::vector<data::DigitImage> batch;
    for (size_t i = start; i < std::min(out.size(), start + kBatch); ++i) batch.push_back(out[i].image);
    const Tensor probs = class_probabilities(net, views_to_input(batch, norm));  // already the model's view
    for (size_t i = 0; i < batch.size(); ++i)
      out[start + i].confidence = probs[static_cast<int64_t>(i) * probs.dim(1) + out[start + i].predicted];
  }
  most_confident_first(out);
  return out;
}

std::vector<Misclassified> find_errors(const Tensor& probabilities, const data::Normalization& norm,
                                       const data::Dataset& test, const std::vector<int32_t>& predictions) {
  if (probabilities.shape().rank() != 2 || probabilities.dim(0) != test.size())
    throw Error("find_errors: probabilities of shape " + probabilities.shape().str() + " for " +
                std::to_string(test.size()) + " images");
  std::vector<Misclassified> out = misclassified(test, predictions, norm);
  const int64_t classes = probabilities.dim(1);
  for (auto& m : out) {
    if (m.predicted < 0 || m.predicted >= classes)
      throw Error("find_errors: prediction " + std::to_string(m.predicted) + " is not one of " +
                  std::to_string(classes) + " classes");
    m.confidence = probabilities[m.index * classes + m.predicted];
  }
  most_confident_first(out);
  return out;
}

void plot_errors(const std::vector<Misclassified>& errors, const std::vector<std::string>& names,
                 const std::string& title, const std::string& out, int max_count) {
  if (out.size() < 4 || out.compare(out.size() - 4, 4, ".png") != 0)
    throw Error(out + ": the error grid is written as a PNG", "end the name in .png");
  const int n = static_cast<int>(std::min<size_t>(errors.size(), static_cast<size_t>(std::max(max_count, 0))));
  const int cols = 10, rows = std::max(1, (n + cols - 1) / cols);
  const int tile_w = 104, tile_h = 132, top = 70, left = 16;
  Canvas c(left * 2 + cols * tile_w, top + rows * tile_h + 10);
  const Rgb ink{40, 40, 40}, wrong{200, 30, 30};
  c.text(c.width() / 2.0, 14, title, 2, ink, Align::Center);
  c.text(c.width() / 2.0, 40,
         n == 0 ? "no errors"
                : "true label as predicted label (probability); the " + std::to_string(n) + " most confident of " +
                      std::to_string(errors.size()) + " errors",
         1, ink, Align::Center);
  auto name = [&](int k) {
    return k >= 0 && k < static_cast<int>(names.size()) ? names[static_cast<size_t>(k)] : std::to_string(k);
  };
  for (int i = 0; i < n; ++i) {
    const Misclassified& m = errors[static_cast<size_t>(i)];
    const int x = left + (i % cols) * tile_w + 10, y = top + (i / cols) * tile_h;
    c.image(m.image.pixels.data(), 28, 28, x, y, 3, Colormap::Gray);
    c.text(x + 42, y + 90, name(m.truth) + " as " + name(m.predicted), 2, wrong, Align::Center);
    char caption[64];
    std::snprintf(caption, sizeof caption, "p=%.2f  #%lld", static_cast<double>(m.confidence), static_cast<long long>(m.index));
    c.text(x + 42, y + 112, caption, 1, ink, Align::Center);
  }
  c.save_png(out);
}

}  // namespace mnistcnn::explain
