// Elementwise activations (relu, sigmoid, tanh) as one layer over a kernel pair;
// the derivative is taken from the output y.
#pragma once
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Activation : public Layer {
 public:
  enum class Type { Relu, Sigmoid, Tanh };
  explicit Activation(Type type) : type_(type) {}

  std::string kind() const override;
  std::string spec() const override { return kind(); }
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 private:
  Type type_;
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
