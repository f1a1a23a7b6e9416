// The Layer interface. A layer is built for an input shape (allocating its parameters),
// then runs forward and backward on batches. Backward is a vector-Jacobian product:
// it overwrites dx (when dx is non-null) and *accumulates* into the gradients of its
// trainable parameters (frozen parameters get no gradient work at all).
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mnistcnn/core/rng.h"
#include "mnistcnn/kernels/fuse.h"
#include "mnistcnn/tensor/tensor.h"

namespace mnistcnn::nn {

enum class Mode { Train, Eval };

// How weights are initialised: PyTorch's defaults (kaiming_uniform(a=√5) weights and
// U(±1/√fan_in) biases) or Keras' (Glorot-uniform weights, zero biases).
enum class Init { Torch, GlorotUniform };

// A named tensor of a layer. Buffers (batch norm's running statistics) are state, not
// weights: saved and loaded with the model, never learnt (whatever `trainable` says,
// e.g. after an "unfreeze all"), never touched by optimizers, updated by forward in
// Train mode; their grad stays zero.
struct Param {
  std::string name;   // dotted and stable: "0.weight" (PyTorch nn.Sequential naming)
  Tensor value, grad;
  bool trainable = true;
  bool buffer = false;
  bool learnable() const { return trainable && !buffer; }
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;  // the registry name: "conv", "dense", ...
  // The spec that rebuilds this layer through the registry: "conv(32,3,pad=1)".
  virtual std::string spec() const = 0;

  // Output shape for an input shape (batch first); throws Error naming the layer and
  // shapes when they collapse or do not fit.
  virtual Shape output_shape(const Shape& in) const = 0;
  // Fixes the input shape (batch first, any N) and allocates parameters (zeroed) if any.
  virtual void build(const Shape& in) { (void)in; }
  virtual void init_params(Init init, Rng& rng) { (void)init, (void)rng; }

  // y is resized to output_shape(x.shape()) and overwritten. In Train mode the layer
  // keeps what backward needs; x and y must stay alive and unchanged until backward.
  virtual void forward(const Tensor& x, Tensor& y, Mode mode) = 0;
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) = 0;
  // forward() together with layers right after it (`next`, in order) that this layer
  // can run in its own pass (a convolution: relu, then maxpool(2)); y gets the last one's
  // output. Returns how many of `next` it took: 0 when it took none and did nothing.
  // The next backward() then stands for all of them: it takes that y and its gradient.
  // Saves a pass over the activations each way, and their buffers.
  virtual size_t forward_fused(const Tensor& x, std::span<const std::unique_ptr<Layer>> next, Tensor& y, Mode mode) {
    (void)x, (void)next, (void)y, (void)mode;
    return 0;
  }
  virtual std::vector<Param*> params() { return {}; }
  // Forward floating-point operations for one sample (multiply-add = 2); `in` is the
  // input shape, batch first (the batch size is ignored).
  virtual int64_t flops(const Shape& in) const { (void)in; return 0; }
  // Whether the layer acts differently in Train and Eval (dropout, batch norm).
  virtual bool has_train_behaviour() const { return false; }
  // Seed for the layer's own randomness (dropout masks).
  virtual void set_seed(uint64_t seed) { (void)seed; }
  // The layer's own random stream, if it has one; checkpoints save and restore its state.
  virtual Rng* rng() { return nullptr; }
};

using LayerPtr = std::unique_ptr<Layer>;

// What of `next` a layer that can fuse them (forward_fused) takes: a relu, then a
// maxpool(2) when its output is planes (N×C×H×W); and how many layers that is.
inline kernels::Fuse fusable(std::span<const LayerPtr> next, bool planes) {
  if (next.empty() || next[0]->kind() != "relu") return kernels::Fuse::None;
  const bool pool = planes && next.size() > 1 && next[1]->spec() == "maxpool(2)";  // 2×2, stride 2, no padding
  return pool ? kernels::Fuse::ReluMaxPool2 : kernels::Fuse::Relu;
}
inline size_t fused_layers(kernels::Fuse fuse) { return static_cast<size_t>(fuse); }

// Limits that keep a hostile or mistyped spec from asking for absurd memory: far above
// any network for 28×28 digits (the presets have under 250k parameters and under 22k
// values per image in any layer).
inline constexpr int64_t kMaxLayerParams = int64_t{1} << 26;         // 256 MB of float32
inline constexpr int64_t kMaxValuesPerSample = int64_t{1} << 24;     // per layer output

// Throws Error naming the layer when a weight of `count` elements exceeds kMaxLayerParams.
void check_param_count(const std::string& layer, int64_t count);

}  // namespace mnistcnn::nn
