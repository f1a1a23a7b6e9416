#include "mnistcnn/loss/cross_entropy.h"

#include <cmath>
#include <string>

#include "mnistcnn/core/error.h"

namespace mnistcnn::loss {

namespace {

// log Σ exp(row) and, into p, softmax(row).
double log_sum_exp(const float* row, int64_t C, float* p) {
  float m = row[0];
  for (int64_t c = 1; c < C; ++c) m = row[c] > m ? row[c] : m;
  double s = 0.0;
  for (int64_t c = 0; c < C; ++c) {
    const double e = std::exp(static_cast<double>(row[c]) - m);
    if (p) p[c] = static_cast<float>(e);
    s += e;
  }
  if (p)
    for (int64_t c = 0; c < C; ++c) p[c] = static_cast<float>(p[c] / s);
  return m + std::log(s);
}

void check_logits(const Tensor& logits, int64_t rows) {
  if (logits.shape().rank() != 2 || logits.dim(0) != rows)
    throw Error("loss: logits " + logits.shape().str() + " do not match " + std::to_string(rows) + " targets");
}

}  // namespace

double cross_entropy(const Tensor& logits, std::span<const int32_t> labels, Tensor* dlogits,
                     double label_smoothing) {
  const int64_t N = static_cast<int64_t>(labels.size());
  check_logits(logits, N);
  const int64_t C = logits.dim(1);
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    throw Error("loss: label smoothing must be in [0, 1], got " + std::to_string(label_smoothing));
  const double eps = label_smoothing, off = eps / static_cast<double>(C);
  if (dlogits) dlogits->resize(logits.shape());
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const int32_t y = labels[n];
    if (y < 0 || y >= C)
      throw Error("loss: label " + std::to_string(y) + " of row " + std::to_string(n) +
                  " is outside [0, " + std::to_string(C) + ")");
    const float* row = logits.data() + n * C;
    float* g = dlogits ? dlogits->data() + n * C : nullptr;
    const double lse = log_sum_exp(row, C, g);
    total += (1.0 - eps) * (lse - row[y]);
    if (eps > 0.0) {
      // ε/C · Σ_c (lse − z_c): the uniform part of the target.
      double sum = 0.0;
      for (int64_t c = 0; c < C; ++c) sum += row[c];
      total += eps * lse - off * sum;
    }
    if (g && eps == 0.0) {
      g[y] -= 1.0f;
      for (int64_t c = 0; c < C; ++c) g[c] /= static_cast<float>(N);
    } else if (g) {
      for (int64_t c = 0; c < C; ++c) g[c] = static_cast<float>((g[c] - off - (c == y ? 1.0 - eps : 0.0)) / N);
    }
  }
  return N ? total / N : 0.0;
}

double categorical_cross_entropy(const Tensor& logits, const Tensor& targets, Tensor* dlogits) {
  if (targets.shape() != logits.shape())
    throw Error("loss: targets " + targets.shape().str() + " do not match logits " + logits.shape().str());
  const int64_t N = logits.dim(0), C = logits.dim(1);
  check_logits(logits, N);
  if (dlogits) dlogits->resize(logits.shape());
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = logits.data() + n * C;
    const float* t = targets.data() + n * C;
    float* g = dlogits ? dlogits->data() + n * C : nullptr;
    const double lse = log_sum_exp(row, C, g);
    double tsum = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      total += t[c] * (lse - row[c]);
      tsum += t[c];
    }
    // d/dz of −Σ t log softmax(z) = softmax(z)·Σt − t.
    if (g)
      for (int64_t c = 0; c < C; ++c) g[c] = static_cast<float>((g[c] * tsum - t[c]) / N);
  }
  return N ? total / N : 0.0;
}

int64_t count_correct(const Tensor& scores, std::span<const int32_t> labels) {
  const int64_t N = static_cast<int64_t>(labels.size()), C = scores.dim(1);
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = scores.data() + n * C;
    int64_t best = 0;
    for (int64_t c = 1; c < C; ++c)
      if (row[c] > row[best]) best = c;
    correct += best == labels[n];
  }
  return correct;
}

}  // namespace mnistcnn::loss
