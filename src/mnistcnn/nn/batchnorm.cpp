#include "mnistcnn/nn/batchnorm.h"

#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/batchnorm.h"
#include "mnistcnn/nn/spec.h"

namespace mnistcnn::nn {

BatchNorm::BatchNorm(const Options& opt) : opt_(opt) {
  if (!(opt.eps > 0.0) || !std::isfinite(opt.eps)) throw Error("batchnorm: eps must be a finite number > 0");
  if (opt.momentum && !(*opt.momentum >= 0.0 && *opt.momentum <= 1.0))
    throw Error("batchnorm: momentum must be in [0, 1]");
}

std::string BatchNorm::spec() const {
  std::string args;
  if (opt_.eps != 1e-5) args += ",eps=" + spec_number(opt_.eps);
  if (!opt_.momentum) args += ",momentum=none";
  else if (*opt_.momentum != 0.1) args += ",momentum=" + spec_number(*opt_.momentum);
  if (!opt_.affine) args += ",affine=false";
  return args.empty() ? "batchnorm" : "batchnorm(" + args.substr(1) + ")";
}

Shape BatchNorm::output_shape(const Shape& in) const {
  if (in.rank() != 4 && in.rank() != 2)
    throw Error(spec() + ": expects N×C×H×W (BatchNorm2d) or N×features (BatchNorm1d) input, got " + in.str());
  return in;
}

void BatchNorm::build(const Shape& in) {
  output_shape(in);
  const int64_t C = in[1];
  check_param_count(spec(), C);
  for (Param* p : params()) {
    p->value = Tensor(p == &batches_ ? Shape{1} : Shape{C});
    p->grad = Tensor(p->value.shape());
  }
  mean_.assign(static_cast<size_t>(C), 0.0f);
  invstd_.assign(static_cast<size_t>(C), 0.0f);
  var_.assign(static_cast<size_t>(C), 0.0f);
}

void BatchNorm::init_params(Init /*init*/, Rng& /*rng*/) {
  // The same under PyTorch's and Keras' conventions: scale 1, shift 0, N(0, 1) statistics.
  if (opt_.affine) {
    weight_.value.fill(1.0f);
    bias_.value.zero();
  }
  running_mean_.value.zero();
  running_var_.value.fill(1.0f);
  batches_.value.zero();
}

void BatchNorm::forward(const Tensor& x, Tensor& y, Mode mode) { run_forward(x, y, mode, kernels::Fuse::None); }

size_t BatchNorm::forward_fused(const Tensor& x, std::span<const LayerPtr> next, Tensor& y, Mode mode) {
  const kernels::Fuse fuse = fusable(next, /*planes=*/x.shape().rank() == 4);
  if (fuse != kernels::Fuse::None) run_forward(x, y, mode, fuse);
  return fused_layers(fuse);
}

void BatchNorm::run_forward(const Tensor& x, Tensor& y, Mode mode, kernels::Fuse fuse) {
  const Shape& in = output_shape(x.shape());
  const int64_t C = running_mean_.value.numel();
  if (in[1] != C)
    throw Error(spec() + ": built for " + std::to_string(C) + " channels, got input " + in.str());
  const kernels::BnDims d{in[0], C, in.rank() == 4 ? in[2] * in[3] : 1};
  batch_stats_ = mode == Mode::Train && !frozen();
  const float eps = static_cast<float>(opt_.eps);
  if (batch_stats_) {
    if (d.M() < 2)
      throw Error(spec() + ": a training batch needs more than one value per channel, got input " + in.str(),
                  "PyTorch refuses this too; use a batch size of 2 or more (a last batch of one image "
                  "comes from the training set size: change the batch size or the subset)");
    kernels::batchnorm_stats(x.data(), d, mean_.data(), var_.data());
    // Running statistics: the batch's unbiased variance, as PyTorch.
    float* rm = running_mean_.value.data();
    float* rv = running_var_.value.data();
    batches_.value[0] += 1.0f;
    const double m = opt_.momentum ? *opt_.momentum : 1.0 / batches_.value[0];
    const double bessel = static_cast<double>(d.M()) / static_cast<double>(d.M() - 1);
    for (int64_t c = 0; c < C; ++c) {
      rm[c] = static_cast<float>((1.0 - m) * rm[c] + m * mean_[c]);
      rv[c] = static_cast<float>((1.0 - m) * rv[c] + m * var_[c] * bessel);
      invstd_[c] = 1.0f / std::sqrt(var_[c] + eps);
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean_[c] = running_mean_.value[c];
      invstd_[c] = 1.0f / std::sqrt(running_var_.value[c] + eps);
    }
  }
  const int64_t W = in.rank() == 4 ? in[3] : 1;
  if (fuse == kernels::Fuse::ReluMaxPool2) {
    y.resize({in[0], C, in[2] / 2, in[3] / 2});
    argmax_.resize(static_cast<size_t>(y.numel()));
  } else {
    y.resize(in);
  }
  kernels::batchnorm_apply(x.data(), d, mean_.data(), invstd_.data(), opt_.affine ? weight_.value.data() : nullptr,
                           opt_.affine ? bias_.value.data() : nullptr, y.data(), fuse, W, argmax_.data());
  fuse_ = fuse;
}

void BatchNorm::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const bool train_w = opt_.affine && weight_.learnable();
  const bool train_b = opt_.affine && bias_.learnable();
  if (!train_w && !train_b && !dx) return;
  const Shape& in = x.shape();
  const kernels::BnDims d{in[0], in[1], in.rank() == 4 ? in[2] * in[3] : 1};
  if (dx) dx->resize(in);
  kernels::batchnorm_backward(x.data(), dy.data(), d, mean_.data(), invstd_.data(),
                              opt_.affine ? weight_.value.data() : nullptr, batch_stats_, dx ? dx->data() : nullptr,
                              train_w ? weight_.grad.data() : nullptr, train_b ? bias_.grad.data() : nullptr, fuse_,
                              y.data(), in.rank() == 4 ? in[3] : 1, argmax_.data());
}

std::vector<Param*> BatchNorm::params() {
  if (opt_.affine) return {&weight_, &bias_, &running_mean_, &running_var_, &batches_};
  return {&running_mean_, &running_var_, &batches_};
}

}  // namespace mnistcnn::nn
