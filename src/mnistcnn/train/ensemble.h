// Ensembles: several models judged together by the mean of their softmax probabilities
// (scikit-learn's VotingClassifier(voting="soft")). Each member reads the same examples
// through its own loader, since each model has its own input normalisation.
#pragma once
#include <utility>
#include <vector>

#include "mnistcnn/data/loader.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/train/trainer.h"

namespace mnistcnn::train {

struct EnsembleMember {
  nn::Sequential* net = nullptr;
  data::Loader* data = nullptr;  // the same examples in the same order as the other members'
  // Test-time augmentation: more views of the same examples (loaders with a shift, in the
  // same order). The member's probabilities are then the mean over `data` and its views.
  std::vector<data::Loader*> views;
};

// The views of --tta: each image moved by one pixel left, right, up and down (with the
// image itself, five views; digits in MNIST are centred by their centre of mass, so a
// pixel either way is still a plausible digit).
std::vector<std::pair<int, int>> tta_shifts();

struct EnsembleResult {
  // loss: mean −log of the averaged probability of the true class (clipped at 1e-15, as
  // scikit-learn's log_loss does, so a confident mistake costs a finite amount).
  EvalResult ensemble;
  // Each alone: the loss in double from its logits; with views, as the ensemble's loss
  // (from the mean probability) and the prediction its argmax.
  std::vector<EvalResult> members;
  Tensor probabilities;             // N×C, the averaged softmax, in loader order
};

// Softmax probabilities (N×C) of `net` over the whole loader, in Eval mode and loader order.
Tensor predict_probabilities(nn::Sequential& net, data::Loader& data);

// Error when there are no members, or they differ in example count, labels or classes.
EnsembleResult evaluate_ensemble(const std::vector<EnsembleMember>& members);

}  // namespace mnistcnn::train
