// Batch normalisation: one channel per loop iteration, the channel's N runs of S values
// visited in order. Parallel over channels once a batch is large enough to pay for the
// threads (a 32×32×13×13 activation is 173k values; a 32×128 dense output is not).
#include "mnistcnn/kernels/batchnorm.h"

namespace mnistcnn::kernels {

namespace {
constexpr int64_t kParallelValues = 1 << 15;

inline const float* run(const float* p, const BnDims& d, int64_t n, int64_t c) {
  return p + (n * d.C + c) * d.S;
}
inline float* run(float* p, const BnDims& d, int64_t n, int64_t c) { return p + (n * d.C + c) * d.S; }
}  // namespace

void batchnorm_stats(const float* x, const BnDims& d, float* mean, float* var) {
  const double inv_m = 1.0 / static_cast<double>(d.M());
#pragma omp parallel for schedule(static) if (d.N * d.C * d.S >= kParallelValues)
  for (int64_t c = 0; c < d.C; ++c) {
    double sum = 0.0;
    for (int64_t n = 0; n < d.N; ++n) {
      const float* xr = run(x, d, n, c);
      for (int64_t s = 0; s < d.S; ++s) sum += xr[s];
    }
    const double mu = sum * inv_m;
    double sq = 0.0;
    for (int64_t n = 0; n < d.N; ++n) {
      const float* xr = run(x, d, n, c);
      for (int64_t s = 0; s < d.S; ++s) {
        const double t = xr[s] - mu;
        sq += t * t;
      }
    }
    mean[c] = static_cast<float>(mu);
    var[c] = static_cast<float>(sq * inv_m);
  }
}

void batchnorm_apply(const float* x, const BnDims& d, const float* mean, const float* invstd,
                     const float* gamma, const float* beta, float* y) {
#pragma omp parallel for schedule(static) if (d.N * d.C * d.S >= kParallelValues)
  for (int64_t c = 0; c < d.C; ++c) {
    // y = x·a + b with a = γ·invstd, b = β − mean·a.
    const float a = (gamma ? gamma[c] : 1.0f) * invstd[c];
    const float b = (beta ? beta[c] : 0.0f) - mean[c] * a;
    for (int64_t n = 0; n < d.N; ++n) {
      const float* xr = run(x, d, n, c);
      float* yr = run(y, d, n, c);
      for (int64_t s = 0; s < d.S; ++s) yr[s] = xr[s] * a + b;
    }
  }
}

void batchnorm_backward(const float* x, const float* dy, const BnDims& d, const float* mean,
                        const float* invstd, const float* gamma, bool batch_stats, float* dx,
                        float* dgamma, float* dbeta) {
  const double M = static_cast<double>(d.M());
#pragma omp parallel for schedule(static) if (d.N * d.C * d.S >= kParallelValues)
  for (int64_t c = 0; c < d.C; ++c) {
    const float mu = mean[c], is = invstd[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t n = 0; n < d.N; ++n) {
      const float* xr = run(x, d, n, c);
      const float* gr = run(dy, d, n, c);
      for (int64_t s = 0; s < d.S; ++s) {
        sum_dy += gr[s];
        sum_dy_xhat += static_cast<double>(gr[s]) * ((xr[s] - mu) * is);
      }
    }
    if (dgamma) dgamma[c] += static_cast<float>(sum_dy_xhat);
    if (dbeta) dbeta[c] += static_cast<float>(sum_dy);
    if (!dx) continue;
    const float scale = (gamma ? gamma[c] : 1.0f) * is;
    // Train: dx = scale·(dy − mean(dy) − x̂·mean(dy·x̂)); running statistics: scale·dy.
    const float mean_dy = batch_stats ? static_cast<float>(sum_dy / M) : 0.0f;
    const float mean_dy_xhat = batch_stats ? static_cast<float>(sum_dy_xhat / M) : 0.0f;
    for (int64_t n = 0; n < d.N; ++n) {
      const float* xr = run(x, d, n, c);
      const float* gr = run(dy, d, n, c);
      float* dr = run(dx, d, n, c);
      for (int64_t s = 0; s < d.S; ++s)
        dr[s] = scale * (gr[s] - mean_dy - (xr[s] - mu) * is * mean_dy_xhat);
    }
  }
}

}  // namespace mnistcnn::kernels
