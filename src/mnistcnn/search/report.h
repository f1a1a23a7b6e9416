// The files a search leaves in its --out directory: trials.jsonl (every trial), summary.md
// (the ranked table, the best configuration and the command to train it on all the data)
// and best.json (the best flags). All written atomically.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mnistcnn/search/results.h"

namespace mnistcnn::search {

void write_trials(const std::string& path, const std::vector<TrialResult>& trials);

// "mnistcnn train BASE FLAGS [--epochs E]": the best configuration on all the training
// data (no held-out part; the test set evaluated at the end). `epochs`: halving's final
// count (0: the base's own).
std::vector<std::string> final_command(const std::vector<std::string>& base, const Leader& best, int epochs);

nlohmann::json best_json(const Leader& best, bool folds, const std::vector<std::string>& command);

// summary.md: what was searched (`description`), the table, the best configuration and
// its command; `complete` false notes an interrupted search.
std::string summary_markdown(const std::vector<Leader>& rows, bool folds, const std::string& description,
                             const std::vector<std::string>& command, bool complete);

}  // namespace mnistcnn::search
