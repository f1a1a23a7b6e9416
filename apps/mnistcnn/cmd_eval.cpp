// mnistcnn eval: loss, accuracy, per-class precision/recall/F1 and the confusion matrix
// of a model on the test pair of an IDX directory.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "data_args.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/explain/plots.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::cli {

namespace {

struct EvalArgs {
  std::string model, confusion_png, errors_png;
  DataArgs data;
  int threads = 0;
  int64_t batch_size = 256;
  bool as_json = false;
};

// --confusion-png / --errors-png: the drawing is the library's (explain/plots.h).
void write_eval_images(const std::string& confusion, const std::string& errors, io::LoadedModel& m,
                       const data::Dataset& test, const train::EvalResult& r, const std::string& model) {
  const auto names = io::class_names(m.info, r.confusion.classes());
  const std::string title = std::filesystem::path(model).filename().string() + " on " + std::to_string(r.count()) + " test images";
  if (!confusion.empty()) {
    explain::plot_confusion(r.confusion, names, title, confusion);
    note("wrote " + confusion);
  }
  if (!errors.empty()) {
    explain::plot_errors(explain::find_errors(m.net, m.info.normalization, test, r.predictions), names, title, errors);
    note("wrote " + errors);
  }
}

void run_eval(const EvalArgs& a) {
  setup_threads(a.threads);
  io::LoadedModel m = io::load_model(a.model);
  const auto classes = io::class_names(m.info, m.net.shapes(1).back()[1]);
  const LoadedData d = load_data(a.data, 0, DataParts::TestOnly, &classes);
  if (!a.as_json) {
    note(d.description);
    for (const auto& line : d.notes) note(line);
  }
  const data::Dataset& test = d.test;
  data::Loader loader(test, {}, a.batch_size, false, 0, m.info.normalization);
  const auto t0 = std::chrono::steady_clock::now();
  const train::EvalResult r = train::evaluate(m.net, loader);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& cm = r.confusion;
  const int C = cm.classes();
  const auto names = io::class_names(m.info, C);
  const auto per_class = cm.per_class();
  write_eval_images(a.confusion_png, a.errors_png, m, test, r, a.model);
  if (a.as_json) {
    nlohmann::json pc = nlohmann::json::array(), conf = nlohmann::json::array();
    for (int k = 0; k < C; ++k) {
      const auto& m_k = per_class[static_cast<size_t>(k)];
      pc.push_back({{"class", names[static_cast<size_t>(k)]}, {"precision", m_k.precision}, {"recall", m_k.recall},
                    {"f1", m_k.f1}, {"support", m_k.support}});
      nlohmann::json row = nlohmann::json::array();
      for (int j = 0; j < C; ++j) row.push_back(cm.at(k, j));
      conf.push_back(row);
    }
    auto avg = [](const train::ClassMetrics& m_) {
      return nlohmann::json{{"precision", m_.precision}, {"recall", m_.recall}, {"f1", m_.f1}, {"support", m_.support}};
    };
    nlohmann::json j = {{"model", a.model}, {"data", a.data.data}, {"accuracy", r.accuracy()}, {"loss", r.loss},
                        {"count", r.count()}, {"errors", r.count() - static_cast<int64_t>(r.accuracy() * r.count() + 0.5)},
                        {"per_class", pc}, {"macro_avg", avg(cm.macro())}, {"weighted_avg", avg(cm.weighted())},
                        {"confusion", conf}, {"seconds", seconds},
                        {"images_per_second", static_cast<double>(r.count()) / seconds}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model: %s\ndata:  %s (%s images)\n\n", a.model.c_str(), a.data.data.c_str(), human_count(r.count()).c_str());
  std::printf("accuracy: %s   loss: %.4f   errors: %lld   (%.2f s, %.0f images/s)\n\n", percent(r.accuracy()).c_str(),
              r.loss, static_cast<long long>(r.count() - static_cast<int64_t>(r.accuracy() * r.count() + 0.5)), seconds,
              static_cast<double>(r.count()) / seconds);
  std::printf("%-12s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
  for (int k = 0; k < C; ++k) {
    const auto& m_k = per_class[static_cast<size_t>(k)];
    std::printf("%-12s %9.4f %9.4f %9.4f %9lld\n", names[static_cast<size_t>(k)].c_str(), m_k.precision, m_k.recall,
                m_k.f1, static_cast<long long>(m_k.support));
  }
  const auto mac = cm.macro(), wei = cm.weighted();
  std::printf("%-12s %9.4f %9.4f %9.4f %9lld\n", "macro avg", mac.precision, mac.recall, mac.f1,
              static_cast<long long>(mac.support));
  std::printf("%-12s %9.4f %9.4f %9.4f %9lld\n\n", "weighted avg", wei.precision, wei.recall, wei.f1,
              static_cast<long long>(wei.support));
  std::printf("confusion matrix (rows: true class, columns: predicted)\n%6s", "");
  for (int j = 0; j < C; ++j) std::printf("%6s", names[static_cast<size_t>(j)].substr(0, 5).c_str());
  std::printf("\n");
  for (int k = 0; k < C; ++k) {
    std::printf("%6s", names[static_cast<size_t>(k)].substr(0, 5).c_str());
    for (int j = 0; j < C; ++j) std::printf("%6lld", static_cast<long long>(cm.at(k, j)));
    std::printf("\n");
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a model on the test images of an IDX directory");
  cmd->add_option("--model", a->model, "model file (.safetensors)")->required();
  add_data_options(cmd, a->data);
  cmd->add_option("--batch-size", a->batch_size, "images per forward pass")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--confusion-png", a->confusion_png, "also draw the confusion matrix as a heat-map (.png or .svg)");
  cmd->add_option("--errors-png", a->errors_png, "also draw the most confident misclassified test digits (.png)");
  cmd->add_flag("--json", a->as_json, "print one JSON object on stdout");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace mnistcnn::cli
