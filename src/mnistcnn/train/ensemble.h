// Ensembles: several models judged together by the mean of their softmax probabilities
// (scikit-learn's VotingClassifier(voting="soft")). Each member reads the same examples
// through its own loader, since each model has its own input normalisation.
#pragma once
#include <vector>

#include "mnistcnn/data/loader.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::train {

struct EnsembleMember {
  nn::Sequential* net = nullptr;
  data::Loader* data = nullptr;  // the same examples in the same order as the other members'
};

struct EnsembleResult {
  // loss: mean −log of the averaged probability of the true class (clipped at 1e-15, as
  // scikit-learn's log_loss does, so a confident mistake costs a finite amount).
  EvalResult ensemble;
  std::vector<EvalResult> members;  // each alone (the loss in double, from its logits)
  Tensor probabilities;             // N×C, the averaged softmax, in loader order
};

// Softmax probabilities (N×C) of `net` over the whole loader, in Eval mode and loader order.
Tensor predict_probabilities(nn::Sequential& net, data::Loader& data);

// Error when there are no members, or they differ in example count, labels or classes.
EnsembleResult evaluate_ensemble(const std::vector<EnsembleMember>& members);

}  // namespace mnistcnn::train
