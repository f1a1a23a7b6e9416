#include "mnistcnn/nn/dropout.h"

#include "mnistcnn/core/error.h"
#include "mnistcnn/nn/spec.h"

namespace mnistcnn::nn {

Dropout::Dropout(float p) : p_(p) {
  if (!(p >= 0.0f && p < 1.0f)) throw Error("dropout: p must be in [0, 1), got " + spec_number(p));
}

std::string Dropout::spec() const { return "dropout(" + spec_number(p_) + ")"; }

void Dropout::forward(const Tensor& x, Tensor& y, Mode mode) {
  y.resize(x.shape());
  const int64_t n = x.numel();
  if (mode == Mode::Eval || p_ == 0.0f) {
    mask_.clear();
    for (int64_t i = 0; i < n; ++i) y[i] = x[i];
    return;
  }
  mask_.resize(static_cast<size_t>(n));
  const float keep_scale = 1.0f / (1.0f - p_);
  // The stream in a local copy, so that its state stays in registers across the stores.
  Rng rng = rng_;
  float* mask = mask_.data();
  for (int64_t i = 0; i < n; ++i) mask[i] = rng.uniform() < p_ ? 0.0f : keep_scale;
  rng_ = rng;
  const float* xs = x.data();
  float* ys = y.data();
  for (int64_t i = 0; i < n; ++i) ys[i] = xs[i] * mask[i];
}

void Dropout::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  const int64_t n = x.numel();
  if (mask_.empty()) {
    for (int64_t i = 0; i < n; ++i) (*dx)[i] = dy[i];
  } else {
    for (int64_t i = 0; i < n; ++i) (*dx)[i] = dy[i] * mask_[i];
  }
}

}  // namespace mnistcnn::nn
