// BatchNorm: PyTorch's BatchNorm2d on N×C×H×W and BatchNorm1d on N×F (one class, the
// input's rank decides), with its defaults (eps 1e-5, momentum 0.1, weight 1, bias 0)
// and tensor names (weight, bias, running_mean, running_var, num_batches_tracked).
// Train mode normalises with the batch's biased variance and moves the running
// statistics towards the batch's mean and *unbiased* variance; Eval mode uses the
// running statistics. Frozen (affine parameters all non-trainable, as when fine-tuning):
// running statistics in both modes and no updates to them, as Keras does for a
// BatchNormalization layer with trainable=False.
#pragma once
#include <optional>
#include <vector>

#include "mnistcnn/kernels/fuse.h"
#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class BatchNorm : public Layer {
 public:
  struct Options {
    double eps = 1e-5;
    // Weight of the batch in the running statistics; nullopt: a cumulative average over
    // all batches seen (PyTorch's momentum=None; the spec's momentum=none).
    std::optional<double> momentum = 0.1;
    bool affine = true;  // learnt weight (scale) and bias (shift) per channel
  };
  explicit BatchNorm(const Options& opt);

  std::string kind() const override { return "batchnorm"; }
  std::string spec() const override;
  Shape output_shape(const Shape& in) const override;
  void build(const Shape& in) override;
  void init_params(Init init, Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, Mode mode) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) override;
  // Runs a following relu, and a maxpool(2) after it on N×C×H×W, in its own pass.
  size_t forward_fused(const Tensor& x, std::span<const LayerPtr> next, Tensor& y, Mode mode) override;
  std::vector<Param*> params() override;
  int64_t flops(const Shape& in) const override { return 2 * in.numel() / in[0]; }
  bool has_train_behaviour() const override { return true; }

  // Uses (and keeps) the running statistics even in Train mode.
  bool frozen() const { return opt_.affine && !weight_.learnable() && !bias_.learnable(); }
  const Options& options() const { return opt_; }

 private:
  Options opt_;
  Param weight_{"weight", {}, {}}, bias_{"bias", {}, {}};
  Param running_mean_{"running_mean", {}, {}, false, true};
  Param running_var_{"running_var", {}, {}, false, true};
  Param batches_{"num_batches_tracked", {}, {}, false, true};  // shape [1], a count
  void run_forward(const Tensor& x, Tensor& y, Mode mode, kernels::Fuse fuse);
  std::vector<float> mean_, invstd_, var_;  // the statistics the last forward used
  bool batch_stats_ = false;                // whether they were the batch's
  kernels::Fuse fuse_ = kernels::Fuse::None;  // what the last forward fused
  std::vector<int32_t> argmax_;               // its pooling's argmax
};

}  // namespace mnistcnn::nn
