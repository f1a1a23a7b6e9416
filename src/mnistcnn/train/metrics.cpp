#include "mnistcnn/train/metrics.h"

namespace mnistcnn::train {

ConfusionMatrix::ConfusionMatrix(int classes)
    : classes_(classes), counts_(static_cast<std::size_t>(classes * classes), 0) {}

int64_t ConfusionMatrix::total() const {
  int64_t t = 0;
  for (int64_t c : counts_) t += c;
  return t;
}

double ConfusionMatrix::accuracy() const {
  int64_t correct = 0;
  for (int k = 0; k < classes_; ++k) correct += at(k, k);
  const int64_t t = total();
  return t ? static_cast<double>(correct) / static_cast<double>(t) : 0.0;
}

std::vector<ClassMetrics> ConfusionMatrix::per_class() const {
  std::vector<ClassMetrics> out(static_cast<std::size_t>(classes_));
  for (int k = 0; k < classes_; ++k) {
    int64_t predicted = 0, actual = 0;
    for (int j = 0; j < classes_; ++j) {
      predicted += at(j, k);
      actual += at(k, j);
    }
    auto& m = out[static_cast<std::size_t>(k)];
    const double tp = static_cast<double>(at(k, k));
    m.precision = predicted ? tp / static_cast<double>(predicted) : 0.0;
    m.recall = actual ? tp / static_cast<double>(actual) : 0.0;
    m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
    m.support = actual;
  }
  return out;
}

ClassMetrics ConfusionMatrix::macro() const {
  ClassMetrics avg;
  const auto pc = per_class();
  for (const auto& m : pc) {
    avg.precision += m.precision / classes_;
    avg.recall += m.recall / classes_;
    avg.f1 += m.f1 / classes_;
  }
  avg.support = total();
  return avg;
}

ClassMetrics ConfusionMatrix::weighted() const {
  ClassMetrics avg;
  const double t = static_cast<double>(total());
  for (const auto& m : per_class()) {
    const double w = t > 0 ? static_cast<double>(m.support) / t : 0.0;
    avg.precision += w * m.precision;
    avg.recall += w * m.recall;
    avg.f1 += w * m.f1;
  }
  avg.support = total();
  return avg;
}

}  // namespace mnistcnn::train
