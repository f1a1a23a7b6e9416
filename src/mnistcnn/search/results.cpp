// Trial records, the objective taken from train's JSON, and the ranking of configurations.
#include "mnistcnn/search/results.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "mnistcnn/core/error.h"

namespace mnistcnn::search {

nlohmann::json to_json(const TrialResult& t) {
  nlohmann::json flags = nlohmann::json::object();
  for (const auto& [name, value] : t.flags) flags[name] = value;
  nlohmann::json j = {{"id", t.id}, {"config", t.config}, {"rung", t.rung}, {"flags", flags}, {"fold", t.fold},
                      {"epochs", t.epochs}, {"status", t.status}, {"train_seconds", t.train_seconds}};
  if (t.status == "ok") {
    j["val_accuracy"] = t.val_accuracy;
    j["val_loss"] = t.val_loss;
    j["scored_epoch"] = t.scored_epoch;
    if (!t.model.empty()) j["model"] = t.model;
  } else {
    j["val_accuracy"] = nullptr;
    j["val_loss"] = nullptr;
    j["error"] = t.error;
  }
  return j;
}

void read_train_output(const std::string& stdout_text, TrialResult& t) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(stdout_text);
  } catch (const nlohmann::json::exception&) {
    throw Error("the trial printed no JSON object on stdout");
  }
  try {
    const auto& epochs = j.at("epochs");
    if (!epochs.is_array() || epochs.empty()) throw Error("the trial's JSON lists no epochs");
    const int restored = j.value("restored_epoch", 0);
    const nlohmann::json* scored = &epochs.back();
    for (const auto& e : epochs)
      if (restored > 0 && e.at("epoch").get<int>() == restored) scored = &e;
    if (!scored->contains("val_accuracy")) throw Error("the trial ran no validation");
    t.val_accuracy = scored->at("val_accuracy").get<double>();
    t.val_loss = scored->at("val_loss").get<double>();
    t.scored_epoch = scored->at("epoch").get<int>();
    t.epochs = epochs.back().at("epoch").get<int>();
    t.train_seconds = j.value("train_seconds", 0.0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("the trial's JSON is not train's: ") + e.what());
  }
}

std::string train_error(const std::string& err) {
  const std::string prefix = "mnistcnn: error: ";
  std::string text;
  const size_t at = err.rfind(prefix);
  if (at != std::string::npos) {
    text = err.substr(at + prefix.size());
  } else {
    size_t end = err.size();
    while (end > 0) {  // the last line worth reading
      const size_t start = err.rfind('\n', end - 1);
      const size_t from = start == std::string::npos ? 0 : start + 1;
      const std::string line = err.substr(from, end - from);
      if (line.find_first_not_of(" \t\r") != std::string::npos && line.rfind("Run with --help", 0) != 0) {
        text = line;
        break;
      }
      if (start == std::string::npos) break;
      end = start;
    }
  }
  std::string one;  // lines joined, blanks squeezed
  for (const char c : text) {
    const char d = c == '\n' || c == '\r' || c == '\t' ? ' ' : c;
    if (d == ' ' && (one.empty() || one.back() == ' ')) continue;
    one += d;
  }
  while (!one.empty() && one.back() == ' ') one.pop_back();
  return one;
}

std::vector<Leader> leaderboard(const std::vector<TrialResult>& trials) {
  std::map<int, int> top_rung;
  for (const TrialResult& t : trials) top_rung[t.config] = std::max(top_rung[t.config], t.rung);
  std::map<int, Leader> rows;
  std::map<int, std::vector<double>> accs, losses;
  for (const TrialResult& t : trials) {
    if (t.rung != top_rung[t.config]) continue;
    Leader& r = rows[t.config];
    r.config = t.config, r.rung = t.rung, r.flags = t.flags, r.epochs = std::max(r.epochs, t.epochs);
    ++r.trials;
    r.seconds += t.train_seconds;
    if (t.status != "ok") {
      ++r.failed;
      if (r.error.empty()) r.error = t.status + ": " + t.error;
      continue;
    }
    accs[t.config].push_back(t.val_accuracy);
    losses[t.config].push_back(t.val_loss);
  }
  std::vector<Leader> out;
  for (auto& [config, r] : rows) {
    const auto& a = accs[config];
    if (!a.empty()) {
      double sum = 0, lsum = 0;
      for (size_t i = 0; i < a.size(); ++i) sum += a[i], lsum += losses[config][i];
      r.accuracy = sum / static_cast<double>(a.size());
      r.loss = lsum / static_cast<double>(a.size());
      double ss = 0;
      for (double v : a) ss += (v - r.accuracy) * (v - r.accuracy);
      r.accuracy_std = a.size() > 1 ? std::sqrt(ss / static_cast<double>(a.size() - 1)) : 0.0;
    }
    out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(), [](const Leader& x, const Leader& y) {
    if (x.ok() != y.ok()) return x.ok();
    if (x.rung != y.rung) return x.rung > y.rung;
    if (x.accuracy != y.accuracy) return x.accuracy > y.accuracy;
    return x.loss < y.loss;
  });
  return out;
}

std::string markdown_table(const std::vector<Leader>& rows, bool folds) {
  std::string s = folds ? "| rank | val accuracy (mean ± std) | val loss | epochs | seconds | flags |\n"
                          "| ---: | ---: | ---: | ---: | ---: | --- |\n"
                        : "| rank | val accuracy | val loss | epochs | seconds | flags |\n"
                          "| ---: | ---: | ---: | ---: | ---: | --- |\n";
  char buf[160];
  int rank = 0;
  for (const Leader& r : rows) {
    ++rank;
    const std::string flags = r.flags.empty() ? "(the base flags)" : config_text(r.flags);
    if (!r.ok()) {
      std::string why = r.error;
      std::replace(why.begin(), why.end(), '|', '/');
      s += "| " + std::to_string(rank) + " | failed | | " + std::to_string(r.epochs) + " | | " + flags + " (" + why + ") |\n";
      continue;
    }
    if (folds)
      std::snprintf(buf, sizeof buf, "| %d | %.2f%% ± %.2f | %.4f | %d | %.1f | ", rank, 100 * r.accuracy,
                    100 * r.accuracy_std, r.loss, r.epochs, r.seconds);
    else
      std::snprintf(buf, sizeof buf, "| %d | %.2f%% | %.4f | %d | %.1f | ", rank, 100 * r.accuracy, r.loss, r.epochs,
                    r.seconds);
    s += buf + flags + " |\n";
  }
  return s;
}

}  // namespace mnistcnn::search
