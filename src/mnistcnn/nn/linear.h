// Linear (dense): y = x·Wᵀ + b with W out×in and b out (PyTorch layout); x is N×in.
#pragma once
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Linear : public Layer {
 public:
  struct Options {
    int64_t out_features = 0;
    bool bias = true;
  };
  explicit Linear(const Options& opt);

  std::string kind() const override { return "dense"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  void build(const Shape& in) override;
  void init_params(Init init, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  std::vector<Param*> params() override;
  int64_t flops(const Shape& in) const override;

  const Options& options() const { return opt_; }

 private:
  Options opt_;
  Param weight_{"weight", {}, {}}, bias_{"bias", {}, {}};
};

}  // namespace mnistcnn::nn
