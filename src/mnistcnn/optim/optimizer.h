// Optimizers over named parameters, with PyTorch's update rules and defaults. Their
// state (momentum buffers, Adam moments) is keyed by parameter name, "0.weight/exp_avg",
// so it can be saved, restored and matched to a changed model. Frozen parameters
// (trainable == false) and buffers (batch norm's running statistics) are never touched.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mnistcnn/nn/layer.h"

namespace mnistcnn::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<nn::Param*> params, double lr);
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  // One update from the accumulated gradients; does not clear them.
  virtual void step() = 0;
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  int64_t steps() const { return step_; }
  void set_steps(int64_t s) { step_ = s; }
  // Per-parameter learning-rate factors by parameter name (discriminative fine-tuning);
  // a parameter not named gets 1.
  void set_lr_multipliers(std::map<std::string, double> mult) { lr_mult_ = std::move(mult); }
  double lr_multiplier(const std::string& param) const;

  // Everything a checkpoint needs: tensors keyed "name/slot", and the number of updates
  // each parameter has had (a parameter unfrozen late starts its Adam bias correction
  // at its own first step, as in PyTorch).
  std::map<std::string, Tensor>& state() { return state_; }
  std::map<std::string, int64_t>& param_steps() { return param_steps_; }
  const std::vector<nn::Param*>& params() const { return params_; }

 protected:
  // The state tensor `slot` of a parameter, created zero-filled on first use (then
  // *created, when given, is true). Its key is built in a buffer kept between calls: no
  // allocation once every slot exists.
  Tensor& slot(const nn::Param& p, const char* slot, bool* created = nullptr);
  // Counts one more update of p and returns its count (1 on its first update).
  int64_t count_step(const nn::Param& p) { return ++param_steps_[p.name]; }
  std::vector<nn::Param*> params_;
  double lr_;
  int64_t step_ = 0;
  std::map<std::string, Tensor> state_;
  std::map<std::string, int64_t> param_steps_;
  std::map<std::string, double> lr_mult_;

 private:
  std::string key_;  // slot()'s key buffer
};

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2, added to the gradient
  bool nesterov = false;
};

// torch.optim.SGD: g += wd·p; b = μ·b + (1−dampening)·g (b = g on the first step);
// g = nesterov ? g + μ·b : b; p −= lr·g.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<nn::Param*> params, const SgdOptions& opt);
  std::string name() const override { return "sgd"; }
  void step() override;

 private:
  struct Update {
    float* w;
    const float* g;
    float* b;  // null without momentum
    int64_t n;
    float lr;
    bool fresh;
  };
  SgdOptions opt_;
  std::vector<Update> updates_;  // step()'s, kept so that a step allocates nothing
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // AdamW: p −= lr·wd·p instead of g += wd·p
  // Keras' form: eps is added to √v before the bias correction (TensorFlow's
  // "epsilon hat"), i.e. the denominator is (√v + eps)/√(1−β2ᵗ).
  bool epsilon_hat = false;
};

// torch.optim.Adam / AdamW: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// p −= lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + eps)  (or Keras' epsilon-hat form).
class Adam : public Optimizer {
 public:
  Adam(std::vector<nn::Param*> params, const AdamOptions& opt);
  std::string name() const override { return opt_.decoupled ? "adamw" : "adam"; }
  void step() override;

 private:
  struct Update {
    float* w;
    const float* g;
    float* m;
    float* v;
    int64_t n;
    float step_size, inv_sqrt_bc2, eps_term, wd_in_grad, shrink;
  };
  AdamOptions opt_;
  std::vector<Update> updates_;  // step()'s, kept so that a step allocates nothing
};

}  // namespace mnistcnn::optim
