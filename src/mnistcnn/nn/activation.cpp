#include "mnistcnn/nn/activation.h"

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/activation.h"

namespace mnistcnn::nn {

std::string Activation::kind() const {
  switch (type_) {
    case Type::Relu: return "relu";
    case Type::Sigmoid: return "sigmoid";
    case Type::Tanh: return "tanh";
  }
  return "relu";
}

void Activation::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  y.resize(x.shape());
  switch (type_) {
    case Type::Relu: kernels::relu_forward(x.data(), y.data(), x.numel()); break;
    case Type::Sigmoid: kernels::sigmoid_forward(x.data(), y.data(), x.numel()); break;
    case Type::Tanh: kernels::tanh_forward(x.data(), y.data(), x.numel()); break;
  }
}

void Activation::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  switch (type_) {
    case Type::Relu: kernels::relu_backward(y.data(), dy.data(), dx->data(), y.numel()); break;
    case Type::Sigmoid: kernels::sigmoid_backward(y.data(), dy.data(), dx->data(), y.numel()); break;
    case Type::Tanh: kernels::tanh_backward(y.data(), dy.data(), dx->data(), y.numel()); break;
  }
}

Shape Softmax::output_shape(const Shape& in) const {
  if (in.rank() != 2) throw Error("softmax: expects N×features input, got " + in.str(), "put flatten before it");
  return in;
}

void Softmax::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  y.resize(output_shape(x.shape()));
  kernels::softmax_rows(x.data(), y.data(), x.dim(0), x.dim(1));
}

void Softmax::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  kernels::softmax_rows_backward(y.data(), dy.data(), dx->data(), y.dim(0), y.dim(1));
}

}  // namespace mnistcnn::nn
