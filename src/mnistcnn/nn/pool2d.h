// MaxPool2d and AvgPool2d over each channel plane: window K, stride (default K), zero
// padding; max pooling routes the gradient to the window's first maximum.
#pragma once
#include <vector>

#include "mnistcnn/kernels/pool.h"
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Pool2d : public Layer {
 public:
  enum class Type { Max, Avg };
  struct Options {
    int64_t kernel = 2;
    int64_t stride = 0;  // 0: same as kernel
    int64_t padding = 0;
  };
  Pool2d(Type type, const Options& opt);

  std::string kind() const override { return type_ == Type::Max ? "maxpool" : "avgpool"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;

 private:
  kernels::PoolGeometry geometry(const Shape& in) const;
  Type type_;
  Options opt_;
  std::vector<int32_t> argmax_;
};

}  // namespace mnistcnn::nn
