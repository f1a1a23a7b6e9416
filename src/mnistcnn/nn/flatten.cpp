#include "mnistcnn/nn/flatten.h"

#include <cstring>

namespace mnistcnn::nn {

Shape Flatten::output_shape(const Shape& in) const { return {in[0], in.numel() / in[0]}; }

void Flatten::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  y.resize(output_shape(x.shape()));
  std::memcpy(y.data(), x.data(), sizeof(float) * x.numel());
}

void Flatten::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  std::memcpy(dx->data(), dy.data(), sizeof(float) * dy.numel());
}

}  // namespace mnistcnn::nn
