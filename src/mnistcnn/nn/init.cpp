#include "mnistcnn/nn/init.h"

#include <cmath>

#include "mnistcnn/core/error.h"

namespace mnistcnn::nn {

void init_weight_and_bias(Init init, Rng& rng, int64_t fan_in, int64_t fan_out, Tensor& weight,
                          Tensor* bias) {
  float w_bound = 0.0f, b_bound = 0.0f;
  switch (init) {
    case Init::Torch:
      // kaiming_uniform_(a=√5): gain √(2/(1+5)), bound gain·√(3/fan_in) = 1/√fan_in.
      w_bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
      b_bound = w_bound;
      break;
    case Init::GlorotUniform:
      w_bound = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
      b_bound = 0.0f;
      break;
  }
  for (auto& v : weight.span()) v = rng.uniform(-w_bound, w_bound);
  if (bias) {
    if (b_bound == 0.0f)
      bias->zero();
    else
      for (auto& v : bias->span()) v = rng.uniform(-b_bound, b_bound);
  }
}

Init parse_init(const std::string& name) {
  if (name == "torch" || name == "pytorch") return Init::Torch;
  if (name == "glorot-uniform" || name == "glorot" || name == "xavier") return Init::GlorotUniform;
  throw Error("unknown initialisation '" + name + "'", "use torch or glorot-uniform");
}

std::string init_name(Init init) { return init == Init::Torch ? "torch" : "glorot-uniform"; }

}  // namespace mnistcnn::nn
