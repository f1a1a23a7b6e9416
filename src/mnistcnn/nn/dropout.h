// Dropout (inverted): in Train mode zeroes each element with probability p and scales
// the rest by 1/(1-p); identity in Eval mode. The mask comes from the layer's own Rng.
#pragma once
#include <vector>

#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Dropout : public Layer {
 public:
  explicit Dropout(float p);

  std::string kind() const override { return "dropout"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  bool has_train_behaviour() const override { return true; }
  void set_seed(uint64_t seed) override { rng_ = Rng(seed, 0xD50); }
  Rng* rng() override { return &rng_; }

 private:
  float p_;
  Rng rng_;
  std::vector<float> mask_;  // 0 or 1/(1-p) per element; empty after an Eval forward
};

}  // namespace mnistcnn::nn
