#include "mnistcnn/nn/registry.h"

#include "mnistcnn/core/error.h"
#include "mnistcnn/nn/activation.h"
#include "mnistcnn/nn/batchnorm.h"
#include "mnistcnn/nn/conv2d.h"
#include "mnistcnn/nn/dropout.h"
#include "mnistcnn/nn/flatten.h"
#include "mnistcnn/nn/global_pool.h"
#include "mnistcnn/nn/linear.h"
#include "mnistcnn/nn/pool2d.h"

namespace mnistcnn::nn {

namespace {
constexpr int64_t kMaxWidth = 1 << 16;   // channels or features
constexpr int64_t kMaxKernel = 1 << 10;

LayerPtr make_pool(Pool2d::Type type, LayerArgs& a) {
  Pool2d::Options o;
  o.kernel = a.integer(0, "kernel", 2, 1, kMaxKernel);
  o.stride = a.integer(1, "stride", o.kernel, 1, kMaxKernel);
  o.padding = a.integer(2, "pad", 0, 0, kMaxKernel);
  return std::make_unique<Pool2d>(type, o);
}
}  // namespace

const std::vector<LayerKind>& layer_kinds() {
  static const std::vector<LayerKind> kinds = {
      {"conv", {"conv2d"}, "conv(out_channels, kernel, stride=1, pad=0|same, bias=true)",
       [](LayerArgs& a) -> LayerPtr {
         Conv2d::Options o;
         o.out_channels = a.required_integer(0, "out", 1, kMaxWidth);
         o.kernel = a.integer(1, "kernel", 3, 1, kMaxKernel);
         o.stride = a.integer(2, "stride", 1, 1, kMaxKernel);
         o.same = a.word(3, "pad", "same");
         if (!o.same && !a.word(3, "pad", "valid")) o.padding = a.integer(3, "pad", 0, 0, kMaxKernel);
         o.bias = a.boolean(4, "bias", true);
         return std::make_unique<Conv2d>(o);
       }},
      {"dense", {"linear", "fc"}, "dense(out_features, bias=true)",
       [](LayerArgs& a) -> LayerPtr {
         Linear::Options o;
         o.out_features = a.required_integer(0, "out", 1, kMaxWidth);
         o.bias = a.boolean(1, "bias", true);
         return std::make_unique<Linear>(o);
       }},
      {"maxpool", {"maxpool2d", "max_pool"}, "maxpool(kernel=2, stride=kernel, pad=0)",
       [](LayerArgs& a) { return make_pool(Pool2d::Type::Max, a); }},
      {"avgpool", {"avgpool2d", "avg_pool"}, "avgpool(kernel=2, stride=kernel, pad=0)",
       [](LayerArgs& a) { return make_pool(Pool2d::Type::Avg, a); }},
      {"gap", {"globalavgpool", "global_avg_pool"}, "gap  (global average pooling to N x C x 1 x 1)",
       [](LayerArgs&) -> LayerPtr { return std::make_unique<GlobalAvgPool>(); }},
      {"batchnorm", {"batchnorm2d", "batchnorm1d", "bn"}, "batchnorm(eps=1e-5, momentum=0.1|none, affine=true)",
       [](LayerArgs& a) -> LayerPtr {
         BatchNorm::Options o;
         o.eps = a.real(0, "eps", 1e-5, 1e-12, 1.0);
         if (a.word(1, "momentum", "none")) o.momentum.reset();
         else o.momentum = a.real(1, "momentum", 0.1, 0.0, 1.0);
         o.affine = a.boolean(2, "affine", true);
         return std::make_unique<BatchNorm>(o);
       }},
      {"flatten", {}, "flatten", [](LayerArgs&) -> LayerPtr { return std::make_unique<Flatten>(); }},
      {"relu", {}, "relu",
       [](LayerArgs&) -> LayerPtr { return std::make_unique<Activation>(Activation::Type::Relu); }},
      {"sigmoid", {}, "sigmoid",
       [](LayerArgs&) -> LayerPtr { return std::make_unique<Activation>(Activation::Type::Sigmoid); }},
      {"tanh", {}, "tanh",
       [](LayerArgs&) -> LayerPtr { return std::make_unique<Activation>(Activation::Type::Tanh); }},
      {"leakyrelu", {"leaky_relu", "lrelu"}, "leakyrelu(slope=0.01)",
       [](LayerArgs& a) -> LayerPtr {
         const auto slope = static_cast<float>(a.real(0, "slope", 0.01, -1e3, 1e3));
         return std::make_unique<Activation>(Activation::Type::LeakyRelu, slope);
       }},
      {"elu", {}, "elu(alpha=1)",
       [](LayerArgs& a) -> LayerPtr {
         const auto alpha = static_cast<float>(a.real(0, "alpha", 1.0, 0.0, 1e3));
         return std::make_unique<Activation>(Activation::Type::Elu, alpha);
       }},
      {"gelu", {}, "gelu  (exact erf form)",
       [](LayerArgs&) -> LayerPtr { return std::make_unique<Activation>(Activation::Type::Gelu); }},
      {"softmax", {}, "softmax", [](LayerArgs&) -> LayerPtr { return std::make_unique<Softmax>(); }},
      {"dropout", {}, "dropout(p=0.5)",
       [](LayerArgs& a) -> LayerPtr {
         return std::make_unique<Dropout>(static_cast<float>(a.real(0, "p", 0.5, 0.0, 0.999)));
       }},
  };
  return kinds;
}

LayerPtr make_layer(const LayerSpec& spec) {
  for (const auto& k : layer_kinds()) {
    bool match = k.kind == spec.kind;
    for (const auto& alias : k.aliases) match = match || alias == spec.kind;
    if (!match) continue;
    LayerArgs args(spec.text, spec.positional, spec.named);
    LayerPtr layer = k.make(args);
    args.finish();
    return layer;
  }
  std::string known;
  for (const auto& k : layer_kinds()) known += (known.empty() ? "" : ", ") + k.kind;
  throw Error("unknown layer '" + spec.kind + "' in architecture spec", "known layers: " + known);
}

}  // namespace mnistcnn::nn
