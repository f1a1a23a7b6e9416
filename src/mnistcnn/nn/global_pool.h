// GlobalAvgPool: the mean of each channel plane, N×C×H×W -> N×C×1×1 (PyTorch's
// AdaptiveAvgPool2d(1), so `gap flatten dense(10)` maps layer for layer onto PyTorch;
// Keras' GlobalAveragePooling2D is `gap flatten`).
#pragma once
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class GlobalAvgPool : public Layer {
 public:
  std::string kind() const override { return "gap"; }
  std::string spec() const override { return "gap"; }
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  int64_t flops(const Shape& in) const override { return in.numel() / in[0]; }
};

}  // namespace mnistcnn::nn
