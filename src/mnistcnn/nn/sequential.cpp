#include "mnistcnn/nn/sequential.h"

#include <algorithm>
#include <optional>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/nn/registry.h"
#include "mnistcnn/nn/spec.h"

namespace mnistcnn::nn {

Sequential Sequential::from_spec(const std::string& spec, const Shape& input) {
  Sequential net;
  for (const auto& ls : parse_spec(spec)) net.add(make_layer(ls));
  net.build(input);
  return net;
}

void check_param_count(const std::string& layer, int64_t count) {
  if (count > kMaxLayerParams)
    throw Error(layer + ": " + std::to_string(count) + " weights, more than the limit of " +
                std::to_string(kMaxLayerParams) + " per layer");
}

void Sequential::add(LayerPtr layer) {
  if (built_) throw Error("Sequential: cannot add a layer after build()");
  layers_.push_back(std::move(layer));
}

void Sequential::build(const Shape& input) {
  if (input.rank() != 3 || input.numel() == 0)
    throw Error("Sequential: input shape must be C×H×W, got " + input.str());
  if (layers_.empty()) throw Error("Sequential: no layers");
  input_ = input;
  flops_per_sample_ = 0;
  Shape s{1, input[0], input[1], input[2]};
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = *layers_[i];
    const std::string where = "layer " + std::to_string(i) + " (" + l.spec() + ") on input " + s.str();
    Shape out;
    try {
      out = l.output_shape(s);
      if (out.numel() > kMaxValuesPerSample)
        throw Error("its output " + out.str() + " holds " + std::to_string(out.numel()) +
                    " values per image, more than the limit of " + std::to_string(kMaxValuesPerSample));
      l.build(s);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    if (out.numel() == 0)
      throw Error("layer " + std::to_string(i) + " (" + l.spec() + ") collapses its input to " + out.str());
    flops_per_sample_ += l.flops(s);
    s = out;
    for (Param* p : l.params()) p->name = std::to_string(i) + "." + p->name;
  }
  outputs_.resize(layers_.size());
  out_.assign(layers_.size(), nullptr);
  grads_.resize(layers_.size());
  built_ = true;
}

void Sequential::init(Init init, uint64_t seed) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    Rng rng(seed, 1000 + i);
    layers_[i]->init_params(init, rng);
    layers_[i]->set_seed(seed ^ (0x5eedULL * (i + 1)));
  }
}

void Sequential::check_input(const Tensor& x) const {
  if (!built_) throw Error("Sequential: forward before build()");
  const Shape& in = x.shape();
  if (in.rank() != 4 || in[1] != input_[0] || in[2] != input_[1] || in[3] != input_[2])
    throw Error("model expects input N×" + std::to_string(input_[0]) + "×" + std::to_string(input_[1]) +
                "×" + std::to_string(input_[2]) + ", got " + in.str());
}

std::span<const LayerPtr> Sequential::following(size_t i, size_t end) const {
  return {layers_.data() + i + 1, end - i - 1};
}

const Tensor& Sequential::infer(const Tensor& x, size_t end) {
  check_input(x);
  // One image, or a few with little work, on one thread: sharing them out between the
  // cores moved more cache lines between them than it saved (one keras-mnist image 1.4x
  // faster on 1 thread than on 2, record's 1.4x; keras-mnist's 2 images 1.35x, lenet's 4
  // 1.25x; record's 2, 60 MFLOP, faster on two; docs/BENCHMARKS.md). Kernels give the same
  // bits on any thread count.
  constexpr int64_t kFewImages = 4, kOneThreadFlops = 20'000'000;
  const int64_t n = x.shape()[0];
  std::optional<kernels::ThreadCountScope> one_thread;
  if (n == 1 || (n <= kFewImages && n * flops_per_sample_ <= kOneThreadFlops)) one_thread.emplace(1);
  end = std::min(end, layers_.size());
  x_ = nullptr;  // nothing to go back through
  forward_end_ = 0;
  const Tensor* cur = &x;
  size_t k = 0;  // the buffer this layer writes
  for (size_t i = 0; i < end; ++i, k ^= 1) {
    const size_t fused = fusion_ ? layers_[i]->forward_fused(*cur, following(i, end), infer_[k], Mode::Eval) : 0;
    if (fused == 0) layers_[i]->forward(*cur, infer_[k], Mode::Eval);
    i += fused;
    cur = &infer_[k];
  }
  return *cur;
}

const Tensor& Sequential::forward(const Tensor& x, Mode mode, size_t end) {
  check_input(x);
  end = std::min(end, layers_.size());
  x_ = &x;
  forward_end_ = end;
  const Tensor* cur = &x;
  for (size_t i = 0; i < end; ++i) {
    // Training runs layers that the one before can fuse inside it; Eval keeps every
    // layer's own output (explain shows them).
    const size_t fused =
        fusion_ && mode == Mode::Train ? layers_[i]->forward_fused(*cur, following(i, end), outputs_[i], mode) : 0;
    if (fused == 0) layers_[i]->forward(*cur, outputs_[i], mode);
    for (size_t k = 0; k <= fused; ++k) out_[i + k] = &outputs_[i];
    cur = &outputs_[i];
    i += fused;
  }
  return *cur;
}

void Sequential::backward(const Tensor& dout, size_t end, bool to_input) {
  end = std::min(end, layers_.size());
  if (!x_ || end != forward_end_) throw Error("Sequential: backward does not match the last forward");
  // first_trainable: no layer before it has a trainable parameter.
  size_t first_trainable = end;
  for (size_t i = 0; i < end && first_trainable == end; ++i)
    for (Param* p : layers_[i]->params())
      if (p->learnable()) {
        first_trainable = i;
        break;
      }
  if (to_input) first_trainable = 0;
  const Tensor* dy = &dout;
  for (size_t i = end; i-- > first_trainable;) {
    if (out_[i] != &outputs_[i]) continue;  // ran inside an earlier layer, whose backward does this one's
    const Tensor& x = i == 0 ? *x_ : *out_[i - 1];
    Tensor* dx = i > first_trainable ? &grads_[i] : (to_input ? &input_grad_ : nullptr);
    layers_[i]->backward(x, *out_[i], *dy, dx);
    dy = dx;
  }
}

Sequential Sequential::clone() const {
  if (!built_) throw Error("Sequential: clone before build()");
  Sequential copy = from_spec(spec(), input_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto src = layers_[i]->params();
    auto dst = copy.layers_[i]->params();
    for (size_t j = 0; j < src.size(); ++j) {
      std::copy(src[j]->value.data(), src[j]->value.data() + src[j]->value.numel(), dst[j]->value.data());
      dst[j]->trainable = src[j]->trainable;
    }
  }
  return copy;
}

size_t Sequential::logits_end() const {
  if (!layers_.empty() && layers_.back()->kind() == "softmax") return layers_.size() - 1;
  return layers_.size();
}

std::vector<Param*> Sequential::params() {
  std::vector<Param*> out;
  for (auto& l : layers_)
    for (Param* p : l->params()) out.push_back(p);
  return out;
}

void Sequential::zero_grad() {
  for (Param* p : params()) p->grad.zero();
}

int64_t Sequential::param_count() {
  int64_t n = 0;
  for (Param* p : params())
    if (!p->buffer) n += p->value.numel();
  return n;
}

std::vector<Shape> Sequential::shapes(int64_t n) const {
  std::vector<Shape> out;
  Shape s{n, input_[0], input_[1], input_[2]};
  for (const auto& l : layers_) {
    s = l->output_shape(s);
    out.push_back(s);
  }
  return out;
}

std::string Sequential::spec() const {
  std::string s;
  for (const auto& l : layers_) {
    if (!s.empty()) s += ' ';
    s += l->spec();
  }
  return s;
}

}  // namespace mnistcnn::nn
