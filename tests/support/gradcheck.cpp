#include "support/gradcheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "mnistcnn/core/rng.h"
#include "mnistcnn/data/loader.h"

namespace mnistcnn::testing {

Tensor random_tensor(const Shape& shape, uint64_t seed, float gap) {
  Tensor t(shape);
  const int64_t n = t.numel();
  if (gap <= 0.0f) {
    Rng rng(seed, 1);
    for (auto& v : t.span()) v = rng.uniform(-1.0f, 1.0f);
    return t;
  }
  // Distinct values on a grid of spacing `gap`, none within gap/2 of zero, shuffled.
  const auto order = data::permutation(n, seed, 2);
  for (int64_t i = 0; i < n; ++i) {
    const float k = static_cast<float>(order[static_cast<size_t>(i)]) - static_cast<float>(n) / 2.0f;
    t[i] = (k + (k >= 0 ? 0.5f : -0.5f)) * gap;
  }
  return t;
}

double worst_mismatch(const float* a, const float* b, int64_t n, double rtol, double atol, int64_t* where) {
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double m = std::fabs(static_cast<double>(a[i]) - b[i]) / (atol + rtol * std::fabs(static_cast<double>(b[i])));
    if (!(m <= worst)) {  // also catches NaN
      worst = std::isnan(m) ? INFINITY : m;
      if (where) *where = i;
    }
  }
  return worst;
}

namespace {

double projected(nn::Layer& layer, const Tensor& x, const Tensor& r, const GradCheckOptions& opt) {
  layer.set_seed(opt.seed);
  Tensor y;
  layer.forward(x, y, opt.mode);
  double s = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y[i]) * r[i];
  return s;
}

void compare(const std::string& what, const Tensor& analytic, const std::vector<double>& numeric,
             const GradCheckOptions& opt) {
  std::vector<float> num(numeric.begin(), numeric.end());
  int64_t where = 0;
  const double worst = worst_mismatch(analytic.data(), num.data(), analytic.numel(), opt.rtol, opt.atol, &where);
  EXPECT_LE(worst, 1.0) << what << ": element " << where << " analytic " << analytic[where] << " numeric "
                        << num[static_cast<size_t>(where)];
}

}  // namespace

void expect_gradients_match(nn::Layer& layer, const Tensor& x_in, const GradCheckOptions& opt) {
  Tensor x = x_in;
  const Shape out = layer.output_shape(x.shape());
  const Tensor r = random_tensor(out, opt.seed + 100);

  // Analytic: dy = R, so dx = ∂L/∂x and parameter grads accumulate ∂L/∂θ.
  for (nn::Param* p : layer.params()) p->grad.zero();
  layer.set_seed(opt.seed);
  Tensor y, dx;
  layer.forward(x, y, opt.mode);
  layer.backward(x, y, r, opt.check_dx ? &dx : nullptr);

  if (opt.check_dx) {
    std::vector<double> num(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float keep = x[i];
      x[i] = keep + static_cast<float>(opt.eps);
      const double up = projected(layer, x, r, opt);
      x[i] = keep - static_cast<float>(opt.eps);
      const double down = projected(layer, x, r, opt);
      x[i] = keep;
      num[static_cast<size_t>(i)] = (up - down) / (2 * opt.eps);
    }
    compare(layer.spec() + " dx", dx, num, opt);
  }
  for (nn::Param* p : layer.params()) {
    if (!p->trainable) continue;
    std::vector<double> num(static_cast<size_t>(p->value.numel()));
    for (int64_t i = 0; i < p->value.numel(); ++i) {
      const float keep = p->value[i];
      p->value[i] = keep + static_cast<float>(opt.eps);
      const double up = projected(layer, x, r, opt);
      p->value[i] = keep - static_cast<float>(opt.eps);
      const double down = projected(layer, x, r, opt);
      p->value[i] = keep;
      num[static_cast<size_t>(i)] = (up - down) / (2 * opt.eps);
    }
    compare(layer.spec() + " d" + p->name, p->grad, num, opt);
  }
}

}  // namespace mnistcnn::testing
