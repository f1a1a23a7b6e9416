// Conv2d: 2-D convolution with stride and zero padding, weights OC×C×KH×KW and bias OC
// (PyTorch layout), computed as im2col + one gemm per batch (kernels/conv.h).
// "same" padding keeps H×W: stride 1 only, as in PyTorch, and odd kernels (symmetric).
#pragma once
#include <vector>

#include "mnistcnn/kernels/conv.h"
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Conv2d : public Layer {
 public:
  struct Options {
    int64_t out_channels = 0;
    int64_t kernel = 3;
    int64_t stride = 1;
    int64_t padding = 0;
    bool same = false;  // padding = (kernel − 1)/2, written pad=same in specs
    bool bias = true;
  };
  explicit Conv2d(const Options& opt);

  std::string kind() const override { return "conv"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  void build(const Shape& in) override;
  void init_params(Init init, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  size_t forward_fused(const Tensor& x, std::span<const LayerPtr> next, Tensor& y, Mode mode) override;
  std::vector<Param*> params() override;
  int64_t flops(const Shape& in) const override;

  const Options& options() const { return opt_; }

 private:
  kernels::ConvGeometry geometry(const Shape& in) const;
  void run_forward(const Tensor& x, Tensor& y, kernels::Fuse fuse, bool keep_argmax);
  Options opt_;
  kernels::Fuse fuse_ = kernels::Fuse::None;  // what the last forward fused
  std::vector<int32_t> argmax_;                        // its pooling's argmax
  bool argmax_kept_ = true;                            // false after an inference forward
  Param weight_{"weight", {}, {}}, bias_{"bias", {}, {}};
  Tensor scratch_;  // per-thread columns (forward), partial sums and columns (backward)
};

}  // namespace mnistcnn::nn
