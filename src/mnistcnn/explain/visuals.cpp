#include "mnistcnn/explain/visuals.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/attribution.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/io/file.h"

namespace mnistcnn::explain {

namespace {

constexpr Rgb kInk{40, 40, 40};
constexpr int kCols = 8;

std::string percent(float p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(p));
  return buf;
}

// The layer itself, plus the activation right after it (what a Keras conv layer outputs).
size_t with_activation(const nn::Sequential& net, size_t i) {
  if (i + 1 < net.logits_end()) {
    const std::string k = net.layer(i + 1).kind();
    if (k == "relu" || k == "sigmoid" || k == "tanh") return i + 1;
  }
  return i;
}

}  // namespace

Canvas heatmap_over_digit(const data::DigitImage& digit, const std::vector<float>& heat, int scale,
                          const std::string& caption) {
  const int side = 28 * scale, caption_h = 28;
  Canvas c(side, side + caption_h);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const size_t p = static_cast<size_t>(y / scale) * 28 + static_cast<size_t>(x / scale);
      Rgb px = colormap(Colormap::Gray, digit.pixels[p]);
      if (!heat.empty()) px = mix(px, colormap(Colormap::Inferno, heat[p]), 0.85f * std::sqrt(std::clamp(heat[p], 0.0f, 1.0f)));
      c.fill_rect(x, y, 1, 1, px);
    }
  c.text(side / 2.0, side + 8, caption, 1, kInk, Align::Center);
  return c;
}

Canvas filter_grid(nn::Sequential& net, size_t layer) {
  nn::Layer& l = net.layer(layer);
  const auto params = l.params();
  if (l.kind() != "conv" || params.empty()) throw Error("filter_grid: layer " + std::to_string(layer) + " is not a conv");
  const Tensor& w = params[0]->value;  // OC×IC×k×k
  const int OC = static_cast<int>(w.dim(0)), IC = static_cast<int>(w.dim(1)), k = static_cast<int>(w.dim(2));
  float top = 1e-12f;
  for (int64_t i = 0; i < w.numel(); ++i) top = std::max(top, std::abs(w[i]));
  const int scale = std::max(4, 48 / k), tile = IC * (k * scale + 2) + 8, rows = (OC + kCols - 1) / kCols;
  Canvas c(std::max(kCols * tile + 16, 420), rows * (k * scale + 8) + 60);
  c.text(c.width() / 2.0, 10, "layer " + std::to_string(layer) + " " + l.spec() + ": " + std::to_string(OC) + " filters",
         1, kInk, Align::Center);
  c.text(c.width() / 2.0, 24, "blue negative, white 0, red positive (largest |w| = " + std::to_string(top) + ")", 1, kInk,
         Align::Center);
  std::vector<float> t(static_cast<size_t>(k) * k);
  for (int o = 0; o < OC; ++o)
    for (int i = 0; i < IC; ++i) {
      for (int p = 0; p < k * k; ++p) t[static_cast<size_t>(p)] = 0.5f + 0.5f * w[(int64_t{o} * IC + i) * k * k + p] / top;
      const int x = 8 + (o % kCols) * tile + i * (k * scale + 2), y = 44 + (o / kCols) * (k * scale + 8);
      c.image(t.data(), k, k, x, y, scale, Colormap::Diverging);
    }
  return c;
}

Canvas feature_grid(const nn::Sequential& net, size_t layer) {
  const Tensor& a = net.output(layer);
  if (a.shape().rank() != 4) throw Error("feature_grid: layer " + std::to_string(layer) + " has no feature maps");
  const int K = static_cast<int>(a.dim(1)), h = static_cast<int>(a.dim(2)), w = static_cast<int>(a.dim(3));
  const int scale = std::max(1, 56 / std::max(h, w)), tw = w * scale + 6, th = h * scale + 6;
  const int rows = (K + kCols - 1) / kCols;
  Canvas c(std::max(kCols * tw + 16, 420), rows * th + 40);
  std::string what = "layer " + std::to_string(layer) + " " + net.layer(layer).spec();
  c.text(c.width() / 2.0, 10, what + ": " + std::to_string(K) + " maps " + std::to_string(h) + "x" + std::to_string(w), 1,
         kInk, Align::Center);
  std::vector<float> t(static_cast<size_t>(h) * w);
  for (int k = 0; k < K; ++k) {
    const float* m = a.data() + int64_t{k} * h * w;
    float lo = 0, hi = 0;
    for (int p = 0; p < h * w; ++p) lo = std::min(lo, m[p]), hi = std::max(hi, m[p]);
    const bool signed_map = lo < 0;
    const float span = signed_map ? std::max(-lo, hi) : hi;
    for (int p = 0; p < h * w; ++p)
      t[static_cast<size_t>(p)] = span <= 0 ? 0.0f : signed_map ? 0.5f + 0.5f * m[p] / span : m[p] / span;
    c.image(t.data(), w, h, 8 + (k % kCols) * tw, 30 + (k / kCols) * th, scale,
            signed_map ? Colormap::Diverging : Colormap::Viridis);
  }
  return c;
}

ExplainSummary write_explanation(nn::Sequential& net, const io::ModelInfo& info, const data::DigitImage& given,
                                 const std::string& dir, std::optional<int> target) {
  const data::DigitImage digit = model_view(given, info.normalization);  // maps are drawn over what the net sees
  if (digit.blank) throw Error("no digit found in the image (it is blank or has too little contrast)");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the output directory: " + ec.message());
  const Tensor x = views_to_input({&digit, 1}, info.normalization);
  const Tensor probs = class_probabilities(net, x);
  ExplainSummary s;
  s.probabilities.assign(probs.data(), probs.data() + probs.numel());
  s.label = static_cast<int>(std::max_element(s.probabilities.begin(), s.probabilities.end()) - s.probabilities.begin());
  s.explained = target.value_or(s.label);
  if (s.explained < 0 || s.explained >= static_cast<int>(s.probabilities.size()))
    throw Error("--class " + std::to_string(s.explained) + ": the model has classes 0 to " +
                std::to_string(s.probabilities.size() - 1));
  const auto names = io::class_names(info, static_cast<int64_t>(s.probabilities.size()));
  const std::string cls = names[static_cast<size_t>(s.explained)];
  const std::string p = percent(s.probabilities[static_cast<size_t>(s.explained)]);
  auto save = [&](const Canvas& c, const std::string& name) {
    c.save_png(dir + "/" + name);
    s.files.push_back(dir + "/" + name);
  };
  save(heatmap_over_digit(digit, {}, 10, "input: predicted " + names[static_cast<size_t>(s.label)] + " (" +
                                             percent(s.probabilities[static_cast<size_t>(s.label)]) + ")"),
       "input.png");
  const Attribution a = attribute(net, x, s.explained);  // also leaves every layer's output for the grids
  save(heatmap_over_digit(digit, a.saliency, 10, "saliency for " + cls + " (" + p + ")"), "saliency.png");
  if (!a.gradcam.empty())
    save(heatmap_over_digit(digit, a.gradcam, 10, "Grad-CAM for " + cls + " at layer " + std::to_string(a.gradcam_layer)),
         "gradcam.png");
  bool first = true;
  for (size_t i = 0; i < net.logits_end(); ++i) {
    if (net.layer(i).kind() != "conv") continue;
    if (first) save(filter_grid(net, i), "filters.png");
    first = false;
    const size_t shown = with_activation(net, i);
    save(feature_grid(net, shown), "features_" + std::to_string(shown) + ".png");
  }
  nlohmann::json j = {{"label", names[static_cast<size_t>(s.label)]}, {"explained", cls},
                      {"probabilities", s.probabilities}, {"gradcam_layer", a.gradcam_layer}, {"files", s.files}};
  const std::string text = j.dump(2) + "\n";
  io::write_file_atomic(dir + "/explain.json", {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  s.files.push_back(dir + "/explain.json");
  return s;
}

}  // namespace mnistcnn::explain
