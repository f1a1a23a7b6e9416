// mnistcnn explain: why the model reads an image as it does: saliency and Grad-CAM
// heat-maps over the digit, the first layer's filters and every conv layer's feature
// maps, written as PNGs into a directory.
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/explain/visuals.h"
#include "mnistcnn/io/file.h"

namespace mnistcnn::cli {

namespace {

struct ExplainArgs {
  std::string model, image, out_dir;
  int target = -1, threads = 0;
  bool as_json = false;
};

void run_explain(const ExplainArgs& a) {
  setup_threads(a.threads);
  io::LoadedModel m = io::load_model(a.model);
  explain::require_digit_model(m.info, a.model);
  const std::vector<uint8_t> bytes = io::read_file_bytes(a.image, size_t{1} << 30);
  const data::DigitImage digit = explain::digit_from_png(bytes.data(), bytes.size(), a.image);
  if (digit.blank) throw Error(a.image + ": no digit found (the image is blank or has too little contrast)");
  const auto s = explain::write_explanation(m.net, m.info, digit, a.out_dir,
                                            a.target >= 0 ? std::optional<int>(a.target) : std::nullopt);
  const auto names = io::class_names(m.info, static_cast<int64_t>(s.probabilities.size()));
  if (a.as_json) {
    std::printf("%s\n", nlohmann::json{{"image", a.image}, {"label", names[static_cast<size_t>(s.label)]},
                                       {"explained", names[static_cast<size_t>(s.explained)]},
                                       {"probabilities", s.probabilities}, {"files", s.files}}
                            .dump()
                            .c_str());
    return;
  }
  std::printf("%s: %s (%s)\n", a.image.c_str(), names[static_cast<size_t>(s.label)].c_str(),
              percent(s.probabilities[static_cast<size_t>(s.label)], 1).c_str());
  for (const auto& f : s.files) std::printf("wrote %s\n", f.c_str());
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto a = std::make_shared<ExplainArgs>();
  auto* cmd = app.add_subcommand("explain", "Saliency and Grad-CAM heat-maps, filters and feature maps for one image");
  cmd->add_option("--model", a->model, "model file (.safetensors)")->required();
  cmd->add_option("image", a->image, "PNG of a digit (any size, grey or colour, either polarity)")->required();
  cmd->add_option("--out", a->out_dir, "directory for the PNGs and explain.json (created if missing)")->required();
  cmd->add_option("--class", a->target, "explain this class index instead of the predicted one")->check(CLI::Range(0, 100000));
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_flag("--json", a->as_json, "print one JSON object on stdout");
  cmd->callback([a] { run_explain(*a); });
}

}  // namespace mnistcnn::cli
