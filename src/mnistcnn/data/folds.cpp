// Stratified K-fold: a seeded shuffle, a stable sort by class, and round-robin dealing.
#include "mnistcnn/data/folds.h"

#include <algorithm>
#include <cstdlib>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/loader.h"

namespace mnistcnn::data {

namespace {
constexpr uint64_t kFoldStream = 0xF01D5;

bool parse_int(const std::string& text, long& out) {
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::strtol(text.c_str(), nullptr, 10);
  return true;
}
}  // namespace

FoldChoice parse_fold(const std::string& text, const std::string& flag) {
  const auto slash = text.find('/');
  long i = 0, k = 0;
  if (slash == std::string::npos || !parse_int(text.substr(0, slash), i) || !parse_int(text.substr(slash + 1), k))
    throw Error(flag + " '" + text + "': expected I/K, e.g. 1/5 (validate on the first of 5 folds)");
  if (k < 2 || k > 1000) throw Error(flag + " " + text + ": the number of folds K must be in 2..1000");
  if (i < 1 || i > k) throw Error(flag + " " + text + ": the fold I must be in 1.." + std::to_string(k));
  return {static_cast<int>(i), static_cast<int>(k)};
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> k_fold(const Dataset& ds, std::vector<int64_t> pool,
                                                             FoldChoice choice, uint64_t seed) {
  if (choice.folds < 2 || choice.fold < 1 || choice.fold > choice.folds)
    throw Error("fold " + std::to_string(choice.fold) + "/" + std::to_string(choice.folds) + " is not a fold");
  if (pool.empty()) {
    pool.resize(static_cast<size_t>(ds.size()));
    for (int64_t i = 0; i < ds.size(); ++i) pool[static_cast<size_t>(i)] = i;
  }
  if (static_cast<int64_t>(pool.size()) < choice.folds)
    throw Error(std::to_string(pool.size()) + " training images cannot make " + std::to_string(choice.folds) + " folds");
  std::vector<int64_t> order;
  order.reserve(pool.size());
  for (const int64_t j : permutation(static_cast<int64_t>(pool.size()), seed, kFoldStream))
    order.push_back(pool[static_cast<size_t>(j)]);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return ds.labels.at(static_cast<size_t>(a)) < ds.labels.at(static_cast<size_t>(b));
  });
  std::pair<std::vector<int64_t>, std::vector<int64_t>> out;
  for (size_t j = 0; j < order.size(); ++j)
    (static_cast<int>(j % static_cast<size_t>(choice.folds)) == choice.fold - 1 ? out.second : out.first)
        .push_back(order[j]);
  std::sort(out.first.begin(), out.first.end());
  std::sort(out.second.begin(), out.second.end());
  return out;
}

}  // namespace mnistcnn::data
