// mnistcnn eval: loss, accuracy, per-class precision/recall/F1 and the confusion matrix
// of a model on the test images, or on the training images a run held out for validation.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "data_args.h"
#include "eval_data.h"
#include "eval_report.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/explain/plots.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::cli {

namespace {

struct EvalArgs {
  std::string model, confusion_png, errors_png;
  DataFlags data;
  uint64_t seed = 1;
  int threads = 0;
  int64_t batch_size = 64;
  int repeat = 0;
  bool tta = false;
  bool as_json = false;
};

// --confusion-png / --errors-png: the drawing is the library's (explain/plots.h).
void write_eval_images(const std::string& confusion, const std::string& errors, io::LoadedModel& m,
                       const EvalImages& judged, const train::EvalResult& r, const Tensor* probabilities,
                       const std::string& model) {
  const auto names = io::class_names(m.info, r.confusion.classes());
  const data::Dataset& images = judged.images;
  const std::string title =
      std::filesystem::path(model).filename().string() + " on " + std::to_string(r.count()) + " " + judged.name;
  if (!confusion.empty()) {
    explain::plot_confusion(r.confusion, names, title, confusion);
    note("wrote " + confusion);
  }
  if (!errors.empty()) {
    // With --tta the confidences are the mean over the views, as the predictions are.
    const data::Normalization& norm = m.info.normalization;
    auto wrong = probabilities ? explain::find_errors(*probabilities, norm, images, r.predictions)
                               : explain::find_errors(m.net, norm, images, r.predictions);
    if (judged.files.empty())  // IDX: caption each digit with its number in the file, as the JSON's source_index
      for (auto& w : wrong) w.index = judged.source_index.at(static_cast<size_t>(w.index));
    std::string view;
    if (norm.deskew) view = "deskewed";
    if (norm.width > 0) view += (view.empty() ? "" : ", ") + std::string("width ") + std::to_string(norm.width);
    explain::plot_errors(wrong, names, title + (view.empty() ? "" : ", drawn as the model sees them (" + view + ")"),
                         errors);
    note("wrote " + errors);
  }
}

// --repeat: the median time of `passes` more calls of `pass`, the first pass (cold: pages,
// thread pool and packed weights not yet in place) having been timed apart; how libtorch's
// reference (bench/torch) times inference, so the two compare like for like.
double median_seconds(const std::function<void()>& pass, int passes) {
  std::vector<double> times;
  for (int i = 0; i < passes; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pass();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

void run_eval(const EvalArgs& a) {
  setup_threads(a.threads);
  io::LoadedModel m = io::load_model(a.model);
  const auto classes = io::class_names(m.info, m.net.shapes(1).back()[1]);
  const EvalImages e = load_eval_images(a.data, a.seed, classes);
  if (!a.as_json) {
    note(e.description);
    for (const auto& line : e.notes) note(line);
  }
  std::vector<std::unique_ptr<data::Loader>> loaders;
  const train::EnsembleMember member = eval_member(m, e.images, a.batch_size, a.tta, loaders);
  // One pass over the images; with --tta, the mean over the five views.
  const auto judge = [&] {
    train::EnsembleResult views;
    if (a.tta)
      views = train::evaluate_ensemble({member});
    else
      views.ensemble = train::evaluate(m.net, *member.data);
    return views;
  };
  const auto t0 = std::chrono::steady_clock::now();
  const train::EnsembleResult views = judge();
  const train::EvalResult& r = views.ensemble;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double warm = a.repeat > 0 ? median_seconds([&] { (void)judge(); }, a.repeat) : 0.0;
  const auto names = io::class_names(m.info, r.confusion.classes());
  write_eval_images(a.confusion_png, a.errors_png, m, e, r, a.tta ? &views.probabilities : nullptr, a.model);
  if (a.as_json) {
    nlohmann::json j = {{"model", a.model}, {"data", a.data.source.data}, {"images", e.name}, {"tta", a.tta}};
    j.update(eval_json(r, names));
    j["misclassified"] = misclassified_json(r, e, names);
    j["seconds"] = seconds;
    j["images_per_second"] = static_cast<double>(r.count()) / seconds;
    if (a.repeat > 0) {
      j["repeat"] = a.repeat;
      j["warm_seconds"] = warm;
      j["warm_images_per_second"] = static_cast<double>(r.count()) / warm;
    }
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model: %s\ndata:  %s (%s %s%s)\n\n", a.model.c_str(), a.data.source.data.c_str(),
              human_count(r.count()).c_str(), e.name.c_str(), a.tta ? ", each as the mean of 5 views" : "");
  std::printf("accuracy: %s   loss: %.4f   errors: %lld   (%.2f s, %.0f images/s)\n\n", percent(r.accuracy()).c_str(),
              r.loss, static_cast<long long>(error_count(r)), seconds, static_cast<double>(r.count()) / seconds);
  if (a.repeat > 0)
    std::printf("warm: %.3f s, %.0f images/s (the median of %d more passes)\n\n", warm,
                static_cast<double>(r.count()) / warm, a.repeat);
  print_class_report(r, names);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a model on the test images (or on held-out training images)");
  cmd->add_option("--model", a->model, "model file (.safetensors)")->required();
  add_data_options(cmd, a->data.source);
  add_held_out_flags(cmd, a->data, a->seed);
  cmd->add_option("--batch-size", a->batch_size, "images per forward pass")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--confusion-png", a->confusion_png, "also draw the confusion matrix as a heat-map (.png or .svg)");
  cmd->add_option("--errors-png", a->errors_png, "also draw the most confident misclassified digits (.png)");
  cmd->add_flag("--tta", a->tta,
                "test-time augmentation: judge every image and its four 1-pixel shifts, by the mean of the five "
                "probabilities");
  cmd->add_option("--repeat", a->repeat,
                  "also time N more passes and report their median speed (warm), for benchmarks; the figures "
                  "reported are the first pass's")
      ->check(CLI::Range(0, 1000));
  cmd->add_flag("--json", a->as_json, "print one JSON object on stdout");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace mnistcnn::cli
