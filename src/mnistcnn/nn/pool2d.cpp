#include "mnistcnn/nn/pool2d.h"

#include "mnistcnn/core/error.h"

namespace mnistcnn::nn {

Pool2d::Pool2d(Type type, const Options& opt) : type_(type), opt_(opt) {
  if (opt_.stride == 0) opt_.stride = opt_.kernel;
  if (opt_.kernel < 1 || opt_.stride < 1 || opt_.padding < 0)
    throw Error(kind() + ": kernel and stride must be positive and padding non-negative");
  if (2 * opt_.padding > opt_.kernel)
    throw Error(kind() + ": padding " + std::to_string(opt_.padding) +
                " must be at most half the kernel " + std::to_string(opt_.kernel));
}

std::string Pool2d::spec() const {
  std::string s = kind() + "(" + std::to_string(opt_.kernel);
  if (opt_.stride != opt_.kernel) s += ",stride=" + std::to_string(opt_.stride);
  if (opt_.padding != 0) s += ",pad=" + std::to_string(opt_.padding);
  return s + ")";
}

kernels::PoolGeometry Pool2d::geometry(const Shape& in) const {
  return {in[2], in[3], opt_.kernel, opt_.stride, opt_.padding};
}

Shape Pool2d::output_shape(const Shape& in) const {
  if (in.rank() != 4) throw Error(spec() + ": expects N×C×H×W input, got " + in.str());
  if (in[2] + 2 * opt_.padding < opt_.kernel || in[3] + 2 * opt_.padding < opt_.kernel)
    throw Error(spec() + ": window " + std::to_string(opt_.kernel) + "x" + std::to_string(opt_.kernel) +
                " does not fit input " + in.str());
  const auto g = geometry(in);
  return {in[0], in[1], g.OH(), g.OW()};
}

void Pool2d::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  y.resize(output_shape(x.shape()));
  const auto g = geometry(x.shape());
  const int64_t planes = x.dim(0) * x.dim(1);
  if (type_ == Type::Max) {
    argmax_.resize(static_cast<size_t>(y.numel()));
    kernels::maxpool_forward(x.data(), planes, g, y.data(), argmax_.data());
  } else {
    kernels::avgpool_forward(x.data(), planes, g, y.data());
  }
}

void Pool2d::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const auto g = geometry(x.shape());
  const int64_t planes = x.dim(0) * x.dim(1);
  if (type_ == Type::Max)
    kernels::maxpool_backward(dy.data(), argmax_.data(), planes, g, dx->data());
  else
    kernels::avgpool_backward(dy.data(), planes, g, dx->data());
}

}  // namespace mnistcnn::nn
