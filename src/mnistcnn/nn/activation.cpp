#include "mnistcnn/nn/activation.h"

#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/activation.h"
#include "mnistcnn/nn/spec.h"

namespace mnistcnn::nn {

Activation::Activation(Type type, float alpha) : type_(type), alpha_(alpha) {
  if (!std::isfinite(alpha)) throw Error(kind() + ": the parameter must be a finite number");
  if (type == Type::Elu && !(alpha >= 0.0f)) throw Error("elu: alpha must be >= 0, got " + spec_number(alpha));
}

std::string Activation::kind() const {
  switch (type_) {
    case Type::Relu: return "relu";
    case Type::Sigmoid: return "sigmoid";
    case Type::Tanh: return "tanh";
    case Type::LeakyRelu: return "leakyrelu";
    case Type::Elu: return "elu";
    case Type::Gelu: return "gelu";
  }
  return "relu";
}

std::string Activation::spec() const {
  if (type_ == Type::LeakyRelu || type_ == Type::Elu) return kind() + "(" + spec_number(alpha_) + ")";
  return kind();
}

void Activation::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  y.resize(x.shape());
  switch (type_) {
    case Type::Relu: kernels::relu_forward(x.data(), y.data(), x.numel()); break;
    case Type::Sigmoid: kernels::sigmoid_forward(x.data(), y.data(), x.numel()); break;
    case Type::Tanh: kernels::tanh_forward(x.data(), y.data(), x.numel()); break;
    case Type::LeakyRelu: kernels::leaky_relu_forward(x.data(), y.data(), x.numel(), alpha_); break;
    case Type::Elu: kernels::elu_forward(x.data(), y.data(), x.numel(), alpha_); break;
    case Type::Gelu: kernels::gelu_forward(x.data(), y.data(), x.numel()); break;
  }
}

void Activation::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  switch (type_) {
    case Type::Relu: kernels::relu_backward(y.data(), dy.data(), dx->data(), y.numel()); break;
    case Type::Sigmoid: kernels::sigmoid_backward(y.data(), dy.data(), dx->data(), y.numel()); break;
    case Type::Tanh: kernels::tanh_backward(y.data(), dy.data(), dx->data(), y.numel()); break;
    case Type::LeakyRelu:
      kernels::leaky_relu_backward(x.data(), dy.data(), dx->data(), x.numel(), alpha_);
      break;
    case Type::Elu: kernels::elu_backward(x.data(), y.data(), dy.data(), dx->data(), x.numel(), alpha_); break;
    case Type::Gelu: kernels::gelu_backward(x.data(), dy.data(), dx->data(), x.numel()); break;
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
