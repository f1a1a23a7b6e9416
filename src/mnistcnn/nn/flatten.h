// Flatten: N×C×H×W -> N×(C·H·W) in C, H, W order (PyTorch's nn.Flatten), a copy.
#pragma once
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Flatten : public Layer {
 public:
  std::string kind() const override { return "flatten"; }
  std::string spec() const override { return "flatten"; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
};

}  // namespace mnistcnn::nn
