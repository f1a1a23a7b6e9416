// Cross-entropy losses on logits (N×C), averaged over the batch. The softmax is fused
// (log-sum-exp with the row maximum subtracted), so large logits never overflow.
// dlogits, when non-null, is overwritten with the gradient of the mean loss:
// (softmax(logits) − target) / N.
#pragma once
#include <cstdint>
#include <span>

#include "mnistcnn/tensor/tensor.h"

namespace mnistcnn::loss {

// Integer class labels in [0, C). Returns the mean loss.
double cross_entropy(const Tensor& logits, std::span<const int32_t> labels, Tensor* dlogits);

// Target distributions (N×C, e.g. one-hot rows; each row should sum to 1), as Keras'
// categorical_crossentropy. Equals cross_entropy for one-hot targets.
double categorical_cross_entropy(const Tensor& logits, const Tensor& targets, Tensor* dlogits);

// Number of rows whose arg-max (first on ties) equals the label.
int64_t count_correct(const Tensor& scores, std::span<const int32_t> labels);

}  // namespace mnistcnn::loss
