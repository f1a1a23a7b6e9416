#include "mnistcnn/nn/conv2d.h"

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/nn/init.h"

namespace mnistcnn::nn {

Conv2d::Conv2d(const Options& opt) : opt_(opt) {
  if (opt.out_channels < 1 || opt.kernel < 1 || opt.stride < 1 || opt.padding < 0)
    throw Error("conv: out_channels, kernel and stride must be positive and padding non-negative");
  if (opt.same) {
    if (opt.stride != 1)
      throw Error("conv: pad=same needs stride 1 (got stride " + std::to_string(opt.stride) + ")",
                  "as in PyTorch; give the padding as a number for strided convolutions");
    if (opt.kernel % 2 == 0)
      throw Error("conv: pad=same needs an odd kernel (got " + std::to_string(opt.kernel) + ")",
                  "even kernels would need uneven padding, which is not supported");
    opt_.padding = (opt.kernel - 1) / 2;
  }
}

std::string Conv2d::spec() const {
  std::string s = "conv(" + std::to_string(opt_.out_channels) + "," + std::to_string(opt_.kernel);
  if (opt_.stride != 1) s += ",stride=" + std::to_string(opt_.stride);
  if (opt_.same) s += ",pad=same";
  else if (opt_.padding != 0) s += ",pad=" + std::to_string(opt_.padding);
  if (!opt_.bias) s += ",bias=false";
  return s + ")";
}

kernels::ConvGeometry Conv2d::geometry(const Shape& in) const {
  return {in[1], in[2], in[3], opt_.out_channels, opt_.kernel, opt_.kernel, opt_.stride, opt_.padding};
}

Shape Conv2d::output_shape(const Shape& in) const {
  if (in.rank() != 4)
    throw Error("conv: expects N×C×H×W input, got " + in.str(), "put conv layers before flatten");
  const int64_t padded_h = in[2] + 2 * opt_.padding, padded_w = in[3] + 2 * opt_.padding;
  if (padded_h < opt_.kernel || padded_w < opt_.kernel)
    throw Error(spec() + ": kernel " + std::to_string(opt_.kernel) + "x" + std::to_string(opt_.kernel) +
                " does not fit input " + in.str() + " (padded " + std::to_string(padded_h) + "x" +
                std::to_string(padded_w) + ")");
  const auto g = geometry(in);
  return {in[0], opt_.out_channels, g.OH(), g.OW()};
}

void Conv2d::build(const Shape& in) {
  output_shape(in.with_batch(1));
  check_param_count(spec(), Shape{opt_.out_channels, in[1], opt_.kernel, opt_.kernel}.numel());
  weight_.value = Tensor({opt_.out_channels, in[1], opt_.kernel, opt_.kernel});
  weight_.grad = Tensor(weight_.value.shape());
  if (opt_.bias) {
    bias_.value = Tensor({opt_.out_channels});
    bias_.grad = Tensor({opt_.out_channels});
  }
}

void Conv2d::init_params(Init init, Rng& rng) {
  const int64_t kk = opt_.kernel * opt_.kernel;
  init_weight_and_bias(init, rng, weight_.value.dim(1) * kk, opt_.out_channels * kk, weight_.value,
                       opt_.bias ? &bias_.value : nullptr);
}

void Conv2d::forward(const Tensor& x, Tensor& y, Mode /*mode*/) { run_forward(x, y, kernels::Fuse::None, true); }

size_t Conv2d::forward_fused(const Tensor& x, std::span<const LayerPtr> next, Tensor& y, Mode mode) {
  const kernels::Fuse fuse = fusable(next, /*planes=*/true);
  size_t taken = fused_layers(fuse);
  // A flatten after them holds the same floats in the same order: the output is reshaped
  // in place instead of copied (both ways: the backward reads the dense layer's gradient
  // as its own), 13 us of a lenet step on two threads.
  const bool flatten = next.size() > taken && next[taken]->kind() == "flatten";
  if (fuse == kernels::Fuse::None && !flatten) return 0;
  // Eval-mode fusion is inference (Sequential::infer): no argmax to write for a backward.
  run_forward(x, y, fuse, mode == Mode::Train);
  if (flatten) {
    y.reshape({y.dim(0), y.numel() / y.dim(0)});
    ++taken;
  }
  return taken;
}

void Conv2d::run_forward(const Tensor& x, Tensor& y, kernels::Fuse fuse, bool keep_argmax) {
  Shape out = output_shape(x.shape());
  if (x.dim(1) != weight_.value.dim(1))
    throw Error(spec() + ": built for " + std::to_string(weight_.value.dim(1)) +
                " input channels, got input " + x.shape().str());
  const auto g = geometry(x.shape());
  const int64_t N = x.dim(0);
  const bool pooled = fuse == kernels::Fuse::ReluMaxPool2;
  if (pooled) {
    out = {N, g.OC, g.OH() / 2, g.OW() / 2};
    if (keep_argmax) argmax_.resize(static_cast<size_t>(out.numel()));
  }
  scratch_.resize({kernels::conv2d_forward_scratch(g, kernels::num_threads(), fuse)});
  y.resize(out);
  kernels::conv2d_forward(x.data(), weight_.value.data(), opt_.bias ? bias_.value.data() : nullptr, g, N,
                          scratch_.data(), y.data(), fuse, pooled && keep_argmax ? argmax_.data() : nullptr);
  fuse_ = fuse;
  argmax_kept_ = keep_argmax;
}

void Conv2d::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const auto g = geometry(x.shape());
  const bool train_w = weight_.trainable;
  const bool train_b = opt_.bias && bias_.trainable;
  if (!train_w && !train_b && !dx) return;
  if (fuse_ == kernels::Fuse::ReluMaxPool2 && !argmax_kept_)
    throw Error(spec() + ": backward after an Eval-mode fused forward (inference keeps no pooling argmax)");
  if (dx) dx->resize(x.shape());
  scratch_.resize({kernels::conv2d_backward_scratch(g, x.dim(0), kernels::num_threads(), fuse_)});
  kernels::conv2d_backward(dy.data(), x.data(), weight_.value.data(), g, x.dim(0), scratch_.data(),
                           train_w ? weight_.grad.data() : nullptr, train_b ? bias_.grad.data() : nullptr,
                           dx ? dx->data() : nullptr, fuse_, y.data(), argmax_.data());
}

std::vector<Param*> Conv2d::params() {
  if (opt_.bias) return {&weight_, &bias_};
  return {&weight_};
}

int64_t Conv2d::flops(const Shape& in) const {
  const auto g = geometry(in);
  return 2 * g.OC * g.L() * g.K();
}

}  // namespace mnistcnn::nn
