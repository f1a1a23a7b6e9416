// Cross-entropy losses on logits (N×C), averaged over the batch. The softmax is fused
// (log-sum-exp with the row maximum subtracted), so large logits never overflow.
// dlogits, when non-null, is overwritten with the gradient of the mean loss:
// (softmax(logits) − target) / N.
#pragma once
#include <cstdint>
#include <span>

#include "mnistcnn/tensor/tensor.h"

namespace mnistcnn::loss {

// Integer class labels in [0, C). Returns the mean loss. label_smoothing ε in [0, 1] is
// PyTorch's CrossEntropyLoss(label_smoothing=ε): the target of each row is
// (1 − ε)·one_hot(label) + ε/C, so the gradient is softmax − target (over N).
double cross_entropy(const Tensor& logits, std::span<const int32_t> labels, Tensor* dlogits,
                     double label_smoothing = 0.0);

// Target distributions (N×C, e.g. one-hot rows; each row should sum to 1), as Keras'
// categorical_crossentropy. Equals cross_entropy for one-hot targets.
double categorical_cross_entropy(const Tensor& logits, const Tensor& targets, Tensor* dlogits);

// Number of rows whose arg-max (first on ties) equals the label.
int64_t count_correct(const Tensor& scores, std::span<const int32_t> labels);

}  // namespace mnistcnn::loss
