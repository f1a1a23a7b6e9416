#include "mnistcnn/nn/linear.h"

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/gemm.h"
#include "mnistcnn/nn/init.h"

namespace mnistcnn::nn {

Linear::Linear(const Options& opt) : opt_(opt) {
  if (opt.out_features < 1) throw Error("dense: out_features must be positive");
}

std::string Linear::spec() const {
  return "dense(" + std::to_string(opt_.out_features) + (opt_.bias ? "" : ",bias=false") + ")";
}

Shape Linear::output_shape(const Shape& in) const {
  if (in.rank() != 2)
    throw Error(spec() + ": expects N×features input, got " + in.str(), "put flatten before dense");
  return {in[0], opt_.out_features};
}

void Linear::build(const Shape& in) {
  output_shape(in);
  check_param_count(spec(), Shape{opt_.out_features, in[1]}.numel());
  weight_.value = Tensor({opt_.out_features, in[1]});
  weight_.grad = Tensor(weight_.value.shape());
  if (opt_.bias) {
    bias_.value = Tensor({opt_.out_features});
    bias_.grad = Tensor({opt_.out_features});
  }
}

void Linear::init_params(Init init, Rng& rng) {
  init_weight_and_bias(init, rng, weight_.value.dim(1), opt_.out_features, weight_.value,
                       opt_.bias ? &bias_.value : nullptr);
}

void Linear::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  const Shape out = output_shape(x.shape());
  const int64_t N = x.dim(0), in = x.dim(1), O = opt_.out_features;
  if (in != weight_.value.dim(1))
    throw Error(spec() + ": built for " + std::to_string(weight_.value.dim(1)) +
                " input features, got input " + x.shape().str());
  y.resize(out);
  if (opt_.bias) {
    const float* b = bias_.value.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o) y[n * O + o] = b[o];
  }
  kernels::gemm(false, true, N, O, in, 1.0f, x.data(), in, weight_.value.data(), in,
                opt_.bias ? 1.0f : 0.0f, y.data(), O);
}

void Linear::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  const int64_t N = x.dim(0), in = x.dim(1), O = opt_.out_features;
  if (weight_.trainable)  // dW (O×in) += dyᵀ (O×N) · x (N×in)
    kernels::gemm(true, false, O, in, N, 1.0f, dy.data(), O, x.data(), in, 1.0f,
                  weight_.grad.data(), in);
  if (opt_.bias && bias_.trainable) {
    float* db = bias_.grad.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o) db[o] += dy[n * O + o];
  }
  if (dx) {  // dx (N×in) = dy (N×O) · W (O×in)
    dx->resize(x.shape());
    kernels::gemm(false, false, N, in, O, 1.0f, dy.data(), O, weight_.value.data(), in, 0.0f,
                  dx->data(), in);
  }
}

std::vector<Param*> Linear::params() {
  if (opt_.bias) return {&weight_, &bias_};
  return {&weight_};
}

int64_t Linear::flops(const Shape& in) const { return 2 * in[1] * opt_.out_features; }

}  // namespace mnistcnn::nn
