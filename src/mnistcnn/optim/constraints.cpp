#include "mnistcnn/optim/constraints.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "mnistcnn/core/error.h"

namespace mnistcnn::optim {

int64_t apply_max_norm(const std::vector<nn::Param*>& params, double max_norm) {
  if (!(max_norm > 0.0) || !std::isfinite(max_norm))
    throw Error("max-norm: the limit must be a finite number > 0, got " + std::to_string(max_norm));
  constexpr double kEpsilon = 1e-7;  // Keras' backend.epsilon()
  int64_t clipped = 0;
  for (nn::Param* p : params) {
    if (!p->learnable() || p->value.shape().rank() < 2) continue;
    const int64_t units = p->value.dim(0), fan_in = p->value.numel() / units;
    for (int64_t u = 0; u < units; ++u) {
      float* w = p->value.data() + u * fan_in;
      double sq = 0.0;
      for (int64_t i = 0; i < fan_in; ++i) sq += static_cast<double>(w[i]) * w[i];
      const double norm = std::sqrt(sq);
      clipped += norm > max_norm;
      const auto scale = static_cast<float>(std::min(norm, max_norm) / (norm + kEpsilon));
      for (int64_t i = 0; i < fan_in; ++i) w[i] *= scale;
    }
  }
  return clipped;
}

}  // namespace mnistcnn::optim
