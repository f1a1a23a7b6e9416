// Sequential: a chain of layers built for one input shape (C×H×W per sample). It owns
// the activation and gradient buffers (reused across batches of the same shape), names
// parameters as PyTorch's nn.Sequential does ("3.weight"), and runs backward only as far
// towards the input as some trainable parameter needs.
#pragma once
#include <limits>
#include <string>
#include <vector>

#include "mnistcnn/nn/layer.h"

namespace mnistcnn::nn {

class Sequential {
 public:
  static constexpr size_t kAll = std::numeric_limits<size_t>::max();

  Sequential() = default;
  Sequential(Sequential&&) = default;
  Sequential& operator=(Sequential&&) = default;

  // Parses a spec line through the registry and builds it for `input` (C×H×W).
  static Sequential from_spec(const std::string& spec, const Shape& input = {1, 28, 28});

  void add(LayerPtr layer);
  // Fixes the per-sample input shape and allocates every layer's parameters; throws
  // Error naming the layer (index and spec) whose shapes do not fit.
  void build(const Shape& input);
  // Initialises every parameter; layer i draws from Rng(seed, i), and dropout layers
  // get their own streams, so the same seed always gives the same network.
  void init(Init init, uint64_t seed);

  // Runs layers [0, end) on x (N×C×H×W) and returns the last output. x must stay alive
  // and unchanged until backward(). In Train mode (and in infer()) layers that the one
  // before can run in its own pass (Layer::forward_fused: a convolution's relu and
  // maxpool(2)) do: output(i) of each of them is then the last one's output, and
  // output_grad of all but the last is not computed.
  const Tensor& forward(const Tensor& x, Mode mode, size_t end = kAll);
  // Whether Train-mode forward and infer() fuse layers (default on; off runs every layer
  // on its own, with the same bits: for tests and for looking at every layer in training).
  void set_fusion(bool on) { fusion_ = on; }
  // Eval-mode forward with nothing kept for backward: the outputs alternate between two
  // buffers, so memory is the two largest neighbouring activations, not all of them.
  // The result is valid until the next forward or infer; backward() then refuses.
  const Tensor& infer(const Tensor& x, size_t end = kAll);
  // Back-propagates dout (gradient of the output of layer end-1, as in the last forward)
  // and accumulates parameter gradients. Stops at the first layer from the input side
  // that has a trainable parameter: nothing before it needs a gradient, unless
  // `to_input` asks for the gradient with respect to the input (saliency), kept in
  // input_grad().
  void backward(const Tensor& dout, size_t end = kAll, bool to_input = false);
  // d(output)/d(input) of the last backward(…, to_input = true): N×C×H×W.
  const Tensor& input_grad() const { return input_grad_; }
  // The gradient with respect to the output of layer i (the input of layer i+1) of the
  // last backward, if backward went that far.
  const Tensor& output_grad(size_t i) const { return i + 1 < grads_.size() ? grads_[i + 1] : input_grad_; }
  // The output of layer i in the last forward.
  const Tensor& output(size_t i) const { return out_.at(i) ? *out_[i] : outputs_[i]; }

  // An independent copy (same spec, parameter values and trainable flags, fresh buffers):
  // one per thread lets several threads run the same model at once.
  Sequential clone() const;

  // Layers that produce the logits: all but a trailing softmax.
  size_t logits_end() const;
  bool ends_in_softmax() const { return logits_end() != layers_.size(); }

  // Every named tensor, buffers (batch norm's running statistics) included.
  std::vector<Param*> params();
  void zero_grad();
  int64_t param_count();  // learnt parameters only, as PyTorch's parameters(): no buffers

  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_.at(i); }
  const Layer& layer(size_t i) const { return *layers_.at(i); }
  const Shape& input_shape() const { return input_; }  // C×H×W
  // Output shape of each layer for a batch of n.
  std::vector<Shape> shapes(int64_t n = 1) const;
  std::string spec() const;

 private:
  void check_input(const Tensor& x) const;
  std::span<const LayerPtr> following(size_t i, size_t end) const;  // layers i+1 .. end-1

  std::vector<LayerPtr> layers_;
  Shape input_;
  bool built_ = false;
  bool fusion_ = true;
  int64_t flops_per_sample_ = 0;  // forward, as Layer::flops counts them
  const Tensor* x_ = nullptr;    // input of the last forward
  size_t forward_end_ = 0;
  std::vector<Tensor> outputs_;  // outputs_[i]: output of layer i
  // Where layer i's output of the last forward is: outputs_[i], or the buffer of the
  // earlier layer it ran inside (fused).
  std::vector<const Tensor*> out_;
  Tensor infer_[2];              // infer(): layer i writes infer_[i % 2]
  std::vector<Tensor> grads_;    // grads_[i]: gradient w.r.t. the input of layer i (i ≥ 1)
  Tensor input_grad_;            // gradient w.r.t. the network input (backward to_input)
};

}  // namespace mnistcnn::nn
