// Finite-difference gradient checks shared by every layer test: reduce the output with a
// fixed random projection L = Σ y·R, compare the analytic dx and parameter gradients with
// central differences of L (relative + absolute tolerance).
#pragma once
#include <cstdint>
#include <string>

#include "mnistcnn/nn/layer.h"

namespace mnistcnn::testing {

struct GradCheckOptions {
  double eps = 1e-2;    // step; inputs are kept away from kinks by more than this
  double rtol = 2e-2;
  double atol = 2e-3;
  nn::Mode mode = nn::Mode::Train;
  bool check_dx = true;
  uint64_t seed = 7;
};

// Checks dx and every trainable parameter's gradient of `layer` at `x`. The layer must
// already be built (and initialised); layers with randomness are reseeded before every
// forward so each evaluation sees the same mask. Reports failures through GoogleTest.
void expect_gradients_match(nn::Layer& layer, const Tensor& x, const GradCheckOptions& opt = {});

// Random tensor with entries uniform in [-1, 1] whose magnitudes stay at least `gap`
// away from 0 (ReLU's kink) and from one another (pooling ties) at the resolution used.
Tensor random_tensor(const Shape& shape, uint64_t seed, float gap = 0.0f);

// Largest |a - b| / (atol + rtol·|b|); ≤ 1 means the tensors agree.
double worst_mismatch(const float* a, const float* b, int64_t n, double rtol, double atol, int64_t* where = nullptr);

}  // namespace mnistcnn::testing
