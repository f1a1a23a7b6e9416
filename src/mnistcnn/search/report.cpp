// trials.jsonl, summary.md and best.json of a search.
#include "mnistcnn/search/report.h"

#include <cstdio>

#include "mnistcnn/io/file.h"
#include "mnistcnn/search/args.h"

namespace mnistcnn::search {

namespace {
void write_text(const std::string& path, const std::string& text) {
  io::write_file_atomic(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}
}  // namespace

void write_trials(const std::string& path, const std::vector<TrialResult>& trials) {
  std::string text;
  for (const TrialResult& t : trials) text += to_json(t).dump() + "\n";
  write_text(path, text);
}

std::vector<std::string> final_command(const std::vector<std::string>& base, const Leader& best, int epochs) {
  std::vector<std::string> c{"mnistcnn", "train"};
  c.insert(c.end(), base.begin(), base.end());
  for (const std::string& a : config_args(best.flags)) c.push_back(a);
  if (epochs > 0) c.push_back("--epochs=" + std::to_string(epochs));
  return c;
}

nlohmann::json best_json(const Leader& best, bool folds, const std::vector<std::string>& command) {
  nlohmann::json flags = nlohmann::json::object();
  for (const auto& [name, value] : best.flags) flags[name] = value;
  nlohmann::json j = {{"config", best.config}, {"flags", flags}, {"args", config_args(best.flags)},
                      {"val_accuracy", best.accuracy}, {"val_loss", best.loss}, {"epochs", best.epochs},
                      {"rung", best.rung}, {"trials", best.trials}, {"command", join_args(command)}};
  if (folds) j["val_accuracy_std"] = best.accuracy_std;
  return j;
}

std::string summary_markdown(const std::vector<Leader>& rows, bool folds, const std::string& description,
                             const std::vector<std::string>& command, bool complete) {
  std::string s = "# Hyperparameter search\n\n" + description + "\n\n";
  if (!complete) s += "**The search was interrupted**: the table holds the trials that finished.\n\n";
  s += "Scored by " + std::string(folds ? "the mean validation accuracy over the folds" : "validation accuracy") +
       " of the last epoch (the restored best epoch's with --early-stop), ties by validation loss; the test set "
       "was never evaluated.\n\n";
  s += markdown_table(rows, folds);
  if (!rows.empty() && rows.front().ok()) {
    const Leader& b = rows.front();
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100 * b.accuracy);
    s += "\n## Best configuration\n\n`" + (b.flags.empty() ? std::string("(the base flags)") : config_text(b.flags)) +
         "`: validation accuracy " + buf;
    if (folds) {
      std::snprintf(buf, sizeof buf, " ± %.2f over %d folds", 100 * b.accuracy_std, b.trials);
      s += buf;
    }
    s += ".\n\nTo train it on all the training data and evaluate it on the test set:\n\n```sh\n" + join_args(command) +
         "\n```\n";
  } else {
    s += "\nNo configuration finished.\n";
  }
  return s;
}

}  // namespace mnistcnn::search
