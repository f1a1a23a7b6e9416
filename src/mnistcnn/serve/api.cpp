#include "mnistcnn/serve/api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/classify.h"

namespace mnistcnn::serve {

using nlohmann::json;

namespace {

// "Image/PNG; charset=x" → "image/png".
std::string media_type(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

// Maps go out with 3 decimals: plenty for a picture, a third of the bytes.
json rounded(const float* v, size_t n) {
  json a = json::array();
  for (size_t i = 0; i < n; ++i) a.push_back(std::round(static_cast<double>(v[i]) * 1000.0) / 1000.0);
  return a;
}

ApiResponse ok(const json& j, int status = 200) { return {status, j.dump()}; }

}  // namespace

Api::Api(const explain::Predictor& predictor, const ApiOptions& options, std::unique_ptr<data::Dataset> test_set,
         std::string test_set_reason, std::unique_ptr<CorrectionStore> corrections, std::string corrections_reason)
    : predictor_(predictor), options_(options), test_set_(std::move(test_set)),
      test_set_reason_(std::move(test_set_reason)), corrections_(std::move(corrections)),
      corrections_reason_(std::move(corrections_reason)) {}

ApiResponse Api::error(int status, const std::string& message) { return {status, json{{"error", message}}.dump()}; }

std::optional<data::DigitImage> Api::read_digit(std::string_view body, std::string_view content_type,
                                                ApiResponse& err) const {
  const std::string type = media_type(content_type);
  try {
    if (type == "image/png")
      return explain::digit_from_png(reinterpret_cast<const uint8_t*>(body.data()), body.size(), "request body");
    if (type != "application/json") {
      err = error(415, "Content-Type must be image/png or application/json, got '" +
                           std::string(content_type.substr(0, 100)) + "'");
      return std::nullopt;
    }
    const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      err = error(400, "request body is not valid JSON");
      return std::nullopt;
    }
    const json* pixels = &j;
    bool preprocess = false;
    if (j.is_object()) {
      const auto it = j.find("pixels");
      if (it == j.end()) {
        err = error(400, "JSON body has no \"pixels\" array");
        return std::nullopt;
      }
      pixels = &*it;
      if (const auto p = j.find("preprocess"); p != j.end()) {
        if (!p->is_boolean()) {
          err = error(400, "\"preprocess\" must be true or false");
          return std::nullopt;
        }
        preprocess = p->get<bool>();
      }
    }
    if (!pixels->is_array() || pixels->size() != 784) {
      err = error(400, "\"pixels\" must be an array of 784 numbers (28×28, row-major), got " +
                           (pixels->is_array() ? std::to_string(pixels->size()) + " values" : std::string(pixels->type_name())));
      return std::nullopt;
    }
    std::vector<float> v(784);
    for (size_t i = 0; i < 784; ++i) {
      const json& e = (*pixels)[i];
      if (!e.is_number()) {
        err = error(400, "pixel " + std::to_string(i) + " is " + e.type_name() + ", not a number");
        return std::nullopt;
      }
      const double d = e.get<double>();
      v[i] = std::isfinite(d) && std::abs(d) < 1e30 ? static_cast<float>(d) : std::nanf("");
    }
    return explain::digit_from_pixels(v, preprocess);
  } catch (const Error& e) {
    err = error(400, e.what());
  }
  return std::nullopt;
}

ApiResponse Api::predict(std::string_view body, std::string_view content_type, bool explain) const {
  ApiResponse err;
  const auto digit = read_digit(body, content_type, err);
  if (!digit) return err;
  const auto t0 = std::chrono::steady_clock::now();
  const explain::Prediction p = predictor_.predict(*digit, explain);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++predictions_;
  json j = {{"blank", p.blank}, {"input", rounded(p.input.pixels.data(), 784)}, {"ms", ms}};
  if (p.blank) {
    j.update({{"label", nullptr}, {"index", nullptr}, {"confidence", nullptr}, {"uncertain", true},
              {"probabilities", json::array()}, {"saliency", json::array()}, {"gradcam", json::array()}});
    return ok(j);
  }
  const float top = p.probabilities[static_cast<size_t>(p.label)];
  j.update({{"label", predictor_.class_names()[static_cast<size_t>(p.label)]}, {"index", p.label},
            {"confidence", top}, {"uncertain", top < options_.min_confidence}, {"probabilities", p.probabilities}});
  const auto& a = p.attribution;
  j["saliency"] = explain ? rounded(a.saliency.data(), a.saliency.size()) : json::array();
  j["gradcam"] = explain ? rounded(a.gradcam.data(), a.gradcam.size()) : json::array();
  return ok(j);
}

ApiResponse Api::correct(std::string_view body, std::string_view content_type, std::string_view label) const {
  if (!corrections_) return error(403, "corrections are off: " + corrections_reason_);
  const auto& names = predictor_.class_names();
  if (std::find(names.begin(), names.end(), label) == names.end()) {
    std::string known;
    for (const auto& c : names) known += (known.empty() ? "" : ", ") + c;
    return error(400, "label '" + std::string(label.substr(0, 64)) + "' is not a class of this model (" + known + ")");
  }
  ApiResponse err;
  const auto digit = read_digit(body, content_type, err);
  if (!digit) return err;
  if (digit->blank) return error(400, "the image is blank: there is no digit to learn from");
  if (corrections_->full()) return error(507, corrections_->dir() + " holds the most corrections allowed");
  try {
    const auto saved = corrections_->save(*digit, std::string(label));
    return ok({{"saved", saved.file}, {"label", std::string(label)}, {"count", saved.class_count},
               {"total", saved.total}}, 201);
  } catch (const Error& e) {  // filled up meanwhile, or the disk refused
    return error(corrections_->full() ? 507 : 500, e.what());
  }
}

ApiResponse Api::random_digit(std::optional<std::string_view> index) const {
  if (!test_set_) return error(404, "no MNIST test set loaded: " + test_set_reason_);
  const int64_t n = test_set_->size();
  int64_t i = 0;
  if (index) {
    const auto r = std::from_chars(index->data(), index->data() + index->size(), i);
    if (r.ec != std::errc() || r.ptr != index->data() + index->size() || i < 0 || i >= n)
      return error(400, "index must be a whole number from 0 to " + std::to_string(n - 1));
  } else {
    thread_local std::mt19937_64 rng(std::random_device{}());
    i = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
  }
  const uint8_t* px = test_set_->images.data() + i * 784;
  return ok({{"index", i}, {"label", predictor_.class_names().at(test_set_->labels[static_cast<size_t>(i)])},
             {"bytes", std::vector<int>(px, px + 784)}, {"source", test_set_->source}});
}

ApiResponse Api::model() const {
  const auto& net = predictor_.network();
  const auto& info = predictor_.info();
  json layers = json::array();
  const auto shapes = net.shapes(1);
  for (size_t i = 0; i < net.size(); ++i)
    layers.push_back({{"index", i}, {"spec", net.layer(i).spec()}, {"output", shapes[i].str()}});
  json accuracy = nullptr;
  if (const auto it = info.provenance.find("test_accuracy"); it != info.provenance.end()) {
    char* end = nullptr;
    const double a = std::strtod(it->second.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(a)) accuracy = a;
  }
  return ok({{"model", options_.model_name}, {"arch", info.arch}, {"params", predictor_.param_count()},
             {"input", {info.input[0], info.input[1], info.input[2]}}, {"classes", predictor_.class_names()},
             {"normalization", info.normalization.name()}, {"test_accuracy", accuracy}, {"provenance", info.provenance},
             {"layers", layers}, {"gradcam_layer", explain::gradcam_layer(net)},
             {"min_confidence", options_.min_confidence},
             {"random_digits", {{"available", test_set_ != nullptr}, {"reason", test_set_reason_},
                                {"count", test_set_ ? test_set_->size() : 0}}},
             {"corrections", {{"enabled", corrections_ != nullptr}, {"reason", corrections_reason_}}}});
}

ApiResponse Api::health() const {
  const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return ok({{"status", "ok"}, {"uptime_s", up}, {"predictions", predictions_.load()},
             {"max_concurrent", predictor_.max_concurrent()}});
}

ApiResponse Api::corrections() const {
  if (!corrections_) return ok({{"enabled", false}, {"reason", corrections_reason_}});
  return ok({{"enabled", true}, {"dir", corrections_->dir()}, {"counts", corrections_->counts()},
             {"total", corrections_->total()}});
}

}  // namespace mnistcnn::serve
