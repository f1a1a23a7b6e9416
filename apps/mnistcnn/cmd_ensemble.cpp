// mnistcnn ensemble: several models judged together by their mean softmax probability,
// with each member's accuracy beside the ensemble's and the per-class report of `eval`, on
// the test images or on held-out training images (to choose the members without the test set).
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "data_args.h"
#include "eval_data.h"
#include "eval_report.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/io/file.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/train/ensemble.h"

namespace mnistcnn::cli {

namespace {

struct EnsembleArgs {
  std::vector<std::string> models;
  std::string out;
  DataFlags data;
  uint64_t seed = 1;
  int threads = 0;
  int64_t batch_size = 256;
  bool tta = false;
  bool as_json = false;
};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

void run_ensemble(const EnsembleArgs& a) {
  setup_threads(a.threads);
  if (a.models.size() < 2) throw Error("--model: an ensemble needs at least two models, got " + std::to_string(a.models.size()));
  std::vector<io::LoadedModel> models;
  std::vector<std::vector<std::string>> names;
  for (const auto& path : a.models) {
    models.push_back(io::load_model(path));
    names.push_back(io::class_names(models.back().info, models.back().net.shapes(1).back()[1]));
    if (names.back() != names.front())
      throw Error(path + ": its classes (" + joined(names.back()) + ") differ from those of " + a.models.front() + " (" +
                      joined(names.front()) + ")",
                  "an ensemble averages probabilities class by class: give models trained on the same classes");
  }
  const EvalImages e = load_eval_images(a.data, a.seed, names.front());
  if (!a.as_json) {
    note(e.description);
    for (const auto& line : e.notes) note(line);
  }
  std::vector<std::unique_ptr<data::Loader>> loaders;
  std::vector<train::EnsembleMember> members;
  for (auto& m : models) members.push_back(eval_member(m, e.images, a.batch_size, a.tta, loaders));
  const auto t0 = std::chrono::steady_clock::now();
  const train::EnsembleResult r = train::evaluate_ensemble(members);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::json j = {{"models", a.models}, {"data", a.data.source.data}, {"images", e.name}, {"tta", a.tta}, {"seconds", seconds}};
  j.update(eval_json(r.ensemble, names.front()));
  j["misclassified"] = misclassified_json(r.ensemble, e, names.front());
  nlohmann::json each = nlohmann::json::array();
  for (size_t m = 0; m < a.models.size(); ++m)
    each.push_back({{"model", a.models[m]}, {"accuracy", r.members[m].accuracy()}, {"loss", r.members[m].loss},
                    {"errors", error_count(r.members[m])},
                    {"misclassified", misclassified_json(r.members[m], e, names.front())}});
  j["members"] = each;
  if (!a.out.empty()) {
    const std::string text = j.dump(2) + "\n";
    io::write_file_atomic(a.out, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }
  if (a.as_json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("data: %s (%s %s)\n\n", a.data.source.data.c_str(), human_count(r.ensemble.count()).c_str(),
              e.name.c_str());
  for (size_t m = 0; m < a.models.size(); ++m)
    std::printf("member %zu: %s   accuracy: %s   loss: %.4f   errors: %lld\n", m + 1, a.models[m].c_str(),
                percent(r.members[m].accuracy()).c_str(), r.members[m].loss,
                static_cast<long long>(error_count(r.members[m])));
  std::printf("\nensemble of %zu (mean softmax%s): accuracy: %s   loss: %.4f   errors: %lld   (%.2f s)\n\n",
              a.models.size(), a.tta ? ", each over 5 views" : "", percent(r.ensemble.accuracy()).c_str(), r.ensemble.loss,
              static_cast<long long>(error_count(r.ensemble)), seconds);
  print_class_report(r.ensemble, names.front());
  if (!a.out.empty()) note("wrote " + a.out);
}

}  // namespace

void add_ensemble_command(CLI::App& app) {
  auto a = std::make_shared<EnsembleArgs>();
  auto* cmd = app.add_subcommand("ensemble", "Evaluate several models together by their mean softmax probability");
  cmd->add_option("--model", a->models, "model file (.safetensors); give two or more")->required();
  add_data_options(cmd, a->data.source);
  add_held_out_flags(cmd, a->data, a->seed);
  cmd->add_option("--batch-size", a->batch_size, "images per forward pass")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_flag("--tta", a->tta,
                "test-time augmentation: each model judges every image and its four 1-pixel shifts, and its "
                "probabilities are the mean of the five");
  cmd->add_option("--out", a->out, "also write the results as JSON to this file");
  cmd->add_flag("--json", a->as_json, "print one JSON object on stdout");
  cmd->callback([a] { run_ensemble(*a); });
}

}  // namespace mnistcnn::cli
