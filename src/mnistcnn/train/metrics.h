// Classification metrics from a confusion matrix: accuracy, per-class precision,
// recall, F1 and support, and their macro and weighted averages (as scikit-learn's
// classification_report defines them; an empty denominator gives 0).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnistcnn::train {

struct ClassMetrics {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes = 10);
  void add(int truth, int predicted) { ++counts_[static_cast<std::size_t>(truth * classes_ + predicted)]; }
  int classes() const { return classes_; }
  int64_t at(int truth, int predicted) const { return counts_[static_cast<std::size_t>(truth * classes_ + predicted)]; }
  int64_t total() const;
  double accuracy() const;
  std::vector<ClassMetrics> per_class() const;
  ClassMetrics macro() const;     // unweighted mean over classes; support = total
  ClassMetrics weighted() const;  // mean weighted by support; support = total

 private:
  int classes_;
  std::vector<int64_t> counts_;  // rows: true class, columns: predicted class
};

}  // namespace mnistcnn::train
