// Elementwise activations as one layer over a kernel pair: relu, sigmoid, tanh,
// leakyrelu(slope), elu(alpha) and gelu (the exact erf form, PyTorch's default), with
// PyTorch's definitions and defaults (slope 0.01, alpha 1).
#pragma once
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Activation : public Layer {
 public:
  enum class Type { Relu, Sigmoid, Tanh, LeakyRelu, Elu, Gelu };
  // alpha: the negative slope of leakyrelu, the saturation of elu; unused otherwise.
  explicit Activation(Type type, float alpha = 0.0f);

  std::string kind() const override;
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 private:
  Type type_;
  float alpha_;
};

// Softmax over the features of an N×F input; as the last layer of a model it turns
// logits into probabilities (training then uses the fused loss on the logits).
class Softmax : public Layer {
 public:
  std::string kind() const override { return "softmax"; }
  std::string spec() const override { return "softmax"; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

}  // namespace mnistcnn::nn
