#include "mnistcnn/explain/train_log.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/file.h"

namespace mnistcnn::explain {

namespace {

double number(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) throw Error(where + ": no number \"" + key + "\"");
  const double v = it->get<double>();
  if (!std::isfinite(v)) throw Error(where + ": \"" + key + "\" is not finite");
  return v;
}

std::optional<double> optional_number(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return number(j, key, where);
}

}  // namespace

TrainLog read_train_log(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file_bytes(path, size_t{1} << 30);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  TrainLog log;
  size_t start = 0;
  for (int line_no = 1; start < text.size(); ++line_no) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      throw Error(where + ": not a JSON object", "give the JSONL file `mnistcnn train --log` wrote");
    if (j.contains("step")) {
      log.steps.push_back({static_cast<int64_t>(number(j, "step", where)), static_cast<int>(number(j, "epoch", where)),
                           number(j, "loss", where)});
    } else if (j.contains("epoch")) {
      EpochRecord r;
      r.epoch = static_cast<int>(number(j, "epoch", where));
      r.train_loss = number(j, "train_loss", where);
      r.train_accuracy = number(j, "train_accuracy", where);
      r.val_loss = optional_number(j, "val_loss", where);
      r.val_accuracy = optional_number(j, "val_accuracy", where);
      if (const auto s = optional_number(j, "steps", where)) r.steps = static_cast<int64_t>(*s);
      log.epochs.push_back(r);
    } else {
      throw Error(where + ": neither an epoch nor a step record (no \"epoch\" or \"step\")");
    }
  }
  if (log.epochs.empty())
    throw Error(path + ": no epoch records", "the log gets one at the end of every epoch; was training stopped early?");
  return log;
}

}  // namespace mnistcnn::explain
