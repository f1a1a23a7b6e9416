// The rung plan of successive halving and the choice of survivors.
#include "mnistcnn/search/halving.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "mnistcnn/core/error.h"

namespace mnistcnn::search {

std::vector<Rung> halving_plan(size_t n, int eta, int min_epochs, int max_epochs) {
  if (n == 0) throw Error("successive halving needs at least one configuration");
  if (eta < 2) throw Error("--halving " + std::to_string(eta) + ": the factor must be at least 2");
  if (min_epochs < 1) throw Error("--min-epochs must be at least 1");
  if (max_epochs != 0 && max_epochs < min_epochs)
    throw Error("--max-epochs " + std::to_string(max_epochs) + " is below --min-epochs " + std::to_string(min_epochs));
  const long cap = max_epochs > 0 ? max_epochs : 100000;
  std::vector<Rung> plan{{n, min_epochs}};
  while (plan.back().configs > 1 && plan.back().epochs < cap) {
    const Rung& last = plan.back();
    plan.push_back({std::max<size_t>(1, last.configs / static_cast<size_t>(eta)),
                    static_cast<int>(std::min<long>(static_cast<long>(last.epochs) * eta, cap))});
  }
  return plan;
}

std::vector<size_t> best_of(const std::vector<RungScore>& scores, size_t keep) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const RungScore &x = scores[a], &y = scores[b];
    if (x.ok != y.ok) return x.ok;
    if (x.accuracy != y.accuracy) return x.accuracy > y.accuracy;
    return x.loss < y.loss;
  });
  order.resize(std::min(keep, order.size()));
  return order;
}

}  // namespace mnistcnn::search
