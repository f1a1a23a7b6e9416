// K-fold cross-validation splits of a training set, as sklearn's StratifiedKFold(shuffle=True):
// every image is validated in exactly one of K folds, and each fold holds about 1/K of
// every class. A fixed fold seed gives every trial of a search the same folds.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mnistcnn/data/dataset.h"

namespace mnistcnn::data {

struct FoldChoice {
  int fold = 0;  // 1-based, in [1, folds]
  int folds = 0;  // >= 2
};
// "I/K" with 1 <= I <= K and 2 <= K <= 1000; Error naming `flag` otherwise.
FoldChoice parse_fold(const std::string& text, const std::string& flag = "--val-fold");

// The pool's images (indices into ds; empty: all of ds) split for fold `choice.fold` of
// `choice.folds`: (train, validation), each increasing. The pool is shuffled with `seed`,
// ordered by class (stably), and dealt round-robin into the folds, so fold sizes differ by
// at most one per class. Error when a fold would be empty (fewer images than folds).
std::pair<std::vector<int64_t>, std::vector<int64_t>> k_fold(const Dataset& ds, std::vector<int64_t> pool,
                                                             FoldChoice choice, uint64_t seed);

}  // namespace mnistcnn::data
