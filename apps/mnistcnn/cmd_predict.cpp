// mnistcnn predict: classify PNG images of digits after bringing each into MNIST's form
// (grey, ink white on black, cropped, fitted to 20 px, centred by centre of mass).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "commands.h"
#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/io/file.h"

namespace mnistcnn::cli {

namespace {

struct PredictArgs {
  std::string model;
  std::vector<std::string> images;
  int top_k = 3, threads = 0;
  bool as_json = false;
};

void run_predict(const PredictArgs& a) {
  setup_threads(a.threads);
  io::LoadedModel m = io::load_model(a.model);
  explain::require_digit_model(m.info, a.model);
  const auto n = static_cast<int64_t>(a.images.size());
  std::vector<data::DigitImage> digits;
  for (const auto& path : a.images) {  // the server's path for uploads too
    const std::vector<uint8_t> bytes = io::read_file_bytes(path, size_t{1} << 30);
    digits.push_back(explain::digit_from_png(bytes.data(), bytes.size(), path));
  }
  const Tensor probs = explain::class_probabilities(m.net, explain::digits_to_input(digits, m.info.normalization));
  const int64_t C = probs.dim(1);
  const auto names = io::class_names(m.info, C);
  const int k = std::min<int>(a.top_k, static_cast<int>(C));
  nlohmann::json results = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i) {
    const float* pr = probs.data() + i * C;
    std::vector<int> order(static_cast<size_t>(C));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int l, int r) { return pr[l] > pr[r]; });
    const bool blank = digits[static_cast<size_t>(i)].blank;
    const std::string& path = a.images[static_cast<size_t>(i)];
    if (a.as_json) {
      nlohmann::json top = nlohmann::json::array(), all = nlohmann::json::array();
      for (int j = 0; j < k; ++j) top.push_back({{"label", names[static_cast<size_t>(order[static_cast<size_t>(j)])]}, {"probability", pr[order[static_cast<size_t>(j)]]}});
      for (int64_t c = 0; c < C; ++c) all.push_back(pr[c]);
      results.push_back({{"file", path}, {"blank", blank},
                         {"label", blank ? nlohmann::json() : nlohmann::json(names[static_cast<size_t>(order[0])])},
                         {"top", blank ? nlohmann::json::array() : top},
                         {"probabilities", blank ? nlohmann::json::array() : all}});
    } else if (blank) {
      std::printf("%s: blank (no digit found)\n", path.c_str());
    } else {
      std::printf("%s: %s", path.c_str(), names[static_cast<size_t>(order[0])].c_str());
      for (int j = 0; j < k; ++j)
        std::printf("%s%s %.2f%%", j ? ", " : "  (", names[static_cast<size_t>(order[static_cast<size_t>(j)])].c_str(),
                    100.0 * pr[order[static_cast<size_t>(j)]]);
      std::printf(")\n");
    }
  }
  if (a.as_json) std::printf("%s\n", nlohmann::json{{"model", a.model}, {"predictions", results}}.dump().c_str());
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand("predict", "Classify PNG images of digits (any size, grey or colour, either polarity)");
  cmd->add_option("--model", a->model, "model file (.safetensors)")->required();
  cmd->add_option("images", a->images, "PNG files")->required();
  cmd->add_option("--top-k", a->top_k, "how many classes to show with their probabilities")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", a->as_json, "print one JSON object on stdout");
  cmd->callback([a] { run_predict(*a); });
}

}  // namespace mnistcnn::cli
