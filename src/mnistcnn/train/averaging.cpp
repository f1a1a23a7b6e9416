#include "mnistcnn/train/averaging.h"

#include <utility>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::train {

namespace {
template <class W>
auto& matching(W& w, const nn::Param& p) {
  const auto it = w.find(p.name);
  if (it == w.end()) throw Error("held weights have no tensor '" + p.name + "'");
  if (it->second.shape() != p.value.shape())
    throw Error("held weight '" + p.name + "' has shape " + it->second.shape().str() + ", the parameter " +
                p.value.shape().str());
  return it->second;
}
}  // namespace

void ema_update(NamedWeights& ema, const std::vector<nn::Param*>& params, double decay) {
  if (ema.empty()) {
    ema = snapshot(params);
    return;
  }
  for (const nn::Param* p : params) {
    Tensor& e = matching(ema, *p);
    const float* w = p->value.data();
    float* a = e.data();
    if (p->buffer) {
      e = p->value;
      continue;
    }
    // Every step, on the main thread: in parallel for large tensors (element-wise, so the
    // same bits for any thread count), with the count read once so that the loop vectorises.
    const int64_t n = e.numel();
    kernels::parallel_region(n >= kernels::kMinParallelValues, [&] {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; ++i)
        a[i] = static_cast<float>(decay * static_cast<double>(a[i]) + (1.0 - decay) * static_cast<double>(w[i]));
    });
  }
}

NamedWeights snapshot(const std::vector<nn::Param*>& params) {
  NamedWeights w;
  for (const nn::Param* p : params) w.emplace(p->name, p->value);
  return w;
}

void swap_weights(NamedWeights& w, const std::vector<nn::Param*>& params) {
  for (nn::Param* p : params) std::swap(matching(w, *p), p->value);
}

void load_weights(const NamedWeights& w, const std::vector<nn::Param*>& params) {
  for (nn::Param* p : params) p->value = matching(w, *p);
}

bool improves(Monitor m, double v, double best, double min_delta) {
  return m == Monitor::ValAccuracy ? v > best + min_delta : v < best - min_delta;
}

const char* monitor_name(Monitor m) { return m == Monitor::ValAccuracy ? "val_accuracy" : "val_loss"; }

}  // namespace mnistcnn::train
