// L1/L2 weight penalties per layer group, Keras' kernel_regularizer: the loss gains
// l1·Σ|w| + l2·Σw² over the chosen weights, and their gradients l1·sign(w) + 2·l2·w.
// Unlike --weight-decay they show in the reported loss and can differ per layer group.
#pragma once
#include <string>
#include <vector>

#include "mnistcnn/nn/sequential.h"

namespace mnistcnn::optim {

struct PenaltyTerm {
  nn::Param* param = nullptr;
  double l1 = 0, l2 = 0;
};

class Penalty {
 public:
  // Adds (or, for a parameter already held, replaces) the coefficients of `param`.
  // Throws Error unless both are finite and >= 0.
  void set(nn::Param* param, double l1, double l2);
  bool empty() const { return terms_.empty(); }
  const std::vector<PenaltyTerm>& terms() const { return terms_; }

  // Σ l1·|w| + l2·w² over the learnable parameters held (frozen ones: a constant, left out).
  double value() const;
  // Accumulates l1·sign(w) + 2·l2·w into the grad of every learnable parameter held
  // (sign(0) = 0, as Keras' tf.sign).
  void add_gradient() const;

 private:
  std::vector<PenaltyTerm> terms_;
};

// One flag's text: a number (every conv and dense weight: the parameters of rank >= 2;
// biases and batch-norm parameters are never penalised) or "GROUP=VALUE;GROUP=VALUE"
// with GROUP a layer selection as nn::select_layers reads it (later parts win where groups
// overlap). Empty text: no parts. Errors name `flag` and the part.
struct PenaltyPart {
  std::string group;  // "" : all weights
  double value = 0;
};
std::vector<PenaltyPart> parse_penalty(const std::string& text, const std::string& flag);

// The penalty of `net` for the --l1 and --l2 texts; selections that match no layer with
// weights are errors naming the flag.
Penalty make_penalty(nn::Sequential& net, const std::string& l1, const std::string& l2);

}  // namespace mnistcnn::optim
