#include "mnistcnn/train/ensemble.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "mnistcnn/core/error.h"

namespace mnistcnn::train {

namespace {

struct Pass {
  Tensor probabilities;  // N×C
  std::vector<int32_t> labels;
  EvalResult result;
};

// One pass: log-softmax in double per row gives the member's loss (as cross-entropy on
// logits computes it) and its probabilities; the prediction is the logits' argmax.
Pass run_member(nn::Sequential& net, data::Loader& data) {
  Pass p;
  const int64_t C = net.shapes(1)[net.logits_end() - 1][1];
  const int64_t N = data.size();
  p.probabilities = Tensor(Shape{N, C});
  p.result.confusion = ConfusionMatrix(static_cast<int>(C));
  p.labels.reserve(static_cast<size_t>(N));
  data.start_epoch(0);
  Tensor x;
  std::vector<int32_t> y;
  double total = 0;
  int64_t row_at = 0;
  for (int64_t b = 0; b < data.num_batches(); ++b) {
    data.batch(b, x, y);
    const Tensor& logits = net.infer(x, net.logits_end());
    for (size_t i = 0; i < y.size(); ++i, ++row_at) {
      const float* z = logits.data() + static_cast<int64_t>(i) * C;
      int32_t best = 0;
      for (int32_t c = 1; c < C; ++c)
        if (z[c] > z[best]) best = c;
      double sum = 0;
      for (int64_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(z[c]) - z[best]);
      const double lse = z[best] + std::log(sum);
      float* out = p.probabilities.data() + row_at * C;
      for (int64_t c = 0; c < C; ++c) out[c] = static_cast<float>(std::exp(static_cast<double>(z[c]) - lse));
      total += lse - z[y[i]];
      p.labels.push_back(y[i]);
      p.result.predictions.push_back(best);
      p.result.confusion.add(y[i], best);
    }
  }
  p.result.loss = N ? total / static_cast<double>(N) : 0.0;
  return p;
}

void check_same_examples(const Pass& p, const Pass& first, const std::string& what) {
  if (p.probabilities.shape() != first.probabilities.shape())
    throw Error(what + " gives " + p.probabilities.shape().str() + " probabilities, member 1 " +
                    first.probabilities.shape().str(),
                "the models must have the same classes and read the same examples");
  if (p.labels != first.labels) throw Error(what + " reads other examples than member 1");
}

// The mean of the passes' probabilities, judged: argmax prediction, loss the mean -log of
// the true class's probability (clipped at 1e-15, as scikit-learn's log_loss).
Pass average(const std::vector<Pass>& passes) {
  const Pass& first = passes.front();
  const int64_t N = first.probabilities.dim(0), C = first.probabilities.dim(1);
  Pass r;
  r.labels = first.labels;
  r.probabilities = Tensor(Shape{N, C});
  r.result.confusion = ConfusionMatrix(static_cast<int>(C));
  double total = 0;
  std::vector<double> mean(static_cast<size_t>(C));
  for (int64_t i = 0; i < N; ++i) {
    std::fill(mean.begin(), mean.end(), 0.0);
    for (const Pass& p : passes)
      for (int64_t c = 0; c < C; ++c) mean[static_cast<size_t>(c)] += p.probabilities.data()[i * C + c];
    int32_t best = 0;
    for (int64_t c = 0; c < C; ++c) {
      mean[static_cast<size_t>(c)] /= static_cast<double>(passes.size());
      r.probabilities.data()[i * C + c] = static_cast<float>(mean[static_cast<size_t>(c)]);
      if (mean[static_cast<size_t>(c)] > mean[static_cast<size_t>(best)]) best = static_cast<int32_t>(c);
    }
    const int32_t y = first.labels[static_cast<size_t>(i)];
    total -= std::log(std::max(mean[static_cast<size_t>(y)], 1e-15));
    r.result.predictions.push_back(best);
    r.result.confusion.add(y, best);
  }
  r.result.loss = N ? total / static_cast<double>(N) : 0.0;
  return r;
}

}  // namespace

std::vector<std::pair<int, int>> tta_shifts() { return {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}}; }

Tensor predict_probabilities(nn::Sequential& net, data::Loader& data) { return run_member(net, data).probabilities; }

EnsembleResult evaluate_ensemble(const std::vector<EnsembleMember>& members) {
  if (members.empty()) throw Error("an ensemble needs at least one model");
  EnsembleResult r;
  std::vector<Pass> passes;
  for (size_t m = 0; m < members.size(); ++m) {
    const std::string name = "ensemble member " + std::to_string(m + 1);
    if (!members[m].net || !members[m].data) throw Error(name + " is missing");
    Pass p = run_member(*members[m].net, *members[m].data);
    if (!members[m].views.empty()) {
      std::vector<Pass> views;
      views.push_back(std::move(p));
      for (size_t v = 0; v < members[m].views.size(); ++v) {
        if (!members[m].views[v]) throw Error(name + ": view " + std::to_string(v + 2) + " is missing");
        views.push_back(run_member(*members[m].net, *members[m].views[v]));
        check_same_examples(views.back(), views.front(), name + ", view " + std::to_string(v + 2));
      }
      p = average(views);
    }
    if (!passes.empty()) check_same_examples(p, passes.front(), name);
    r.members.push_back(p.result);
    passes.push_back(std::move(p));
  }
  Pass mean = average(passes);
  r.ensemble = std::move(mean.result);
  r.probabilities = std::move(mean.probabilities);
  return r;
}

}  // namespace mnistcnn::train
