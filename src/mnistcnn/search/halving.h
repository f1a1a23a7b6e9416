// Successive halving (Jamieson & Talwalkar 2016; the rungs of Hyperband and of sklearn's
// HalvingGridSearchCV with resource="epochs"): train every configuration briefly, keep the
// best 1/eta, give the survivors eta times the epochs, until one is left.
#pragma once
#include <cstddef>
#include <vector>

namespace mnistcnn::search {

struct Rung {
  size_t configs = 0;  // configurations trained in this rung
  int epochs = 0;      // epochs each is trained for (in total, from scratch)
};

// Rung 0 trains n configurations for min_epochs; each next rung keeps max(1, n / eta)
// (rounded down) and trains them for min(epochs · eta, max_epochs). The plan ends after
// the rung with one configuration or with max_epochs (0: no cap other than train's
// 100,000). Errors: n = 0, eta < 2, min_epochs < 1, 0 < max_epochs < min_epochs.
std::vector<Rung> halving_plan(size_t n, int eta, int min_epochs, int max_epochs);

// Positions of the `keep` best scores: higher `accuracy` first, then lower `loss`, then the
// earlier position (so ties are decided the same way every time). Returned best first.
struct RungScore {
  double accuracy = 0, loss = 0;
  bool ok = false;  // failed configurations rank last and are never kept over a finished one
};
std::vector<size_t> best_of(const std::vector<RungScore>& scores, size_t keep);

}  // namespace mnistcnn::search
