// Batch normalisation: one channel per loop iteration, the channel's N runs of S values
// visited in order. Parallel over channels once a batch is large enough to pay for the
// threads (kMinParallelValues, kernels/parallel.h).
// Sums run in float SIMD lanes over blocks of at most kBlock values and are added up in
// double: a serial double chain was the layer's whole cost (1.2 ns per value).
#include "mnistcnn/kernels/batchnorm.h"

#include <cstddef>
#include <vector>

#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/kernels/pool.h"

namespace mnistcnn::kernels {

namespace {

inline const float* run(const float* p, const BnDims& d, int64_t n, int64_t c) {
  return p + (n * d.C + c) * d.S;
}
inline float* run(float* p, const BnDims& d, int64_t n, int64_t c) { return p + (n * d.C + c) * d.S; }

constexpr int64_t kBlock = 1024;

// Σ p[i] and Σ (p[i] − mu)² over n values.
double sum(const float* p, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = b; i < e; ++i) acc += p[i];
    total += acc;
  }
  return total;
}

double sum_sq_dev(const float* p, int64_t n, float mu) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = b; i < e; ++i) acc += (p[i] - mu) * (p[i] - mu);
    total += acc;
  }
  return total;
}

// Σ dy and Σ dy·(x − mu)·invstd over n values, added into the two totals.
void sum_dy_xhat(const float* x, const float* dy, int64_t n, float mu, float is, double& sum_dy, double& sum_dy_xhat) {
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float a = 0.0f, c = 0.0f;
#pragma omp simd reduction(+ : a, c)
    for (int64_t i = b; i < e; ++i) {
      a += dy[i];
      c += dy[i] * ((x[i] - mu) * is);
    }
    sum_dy += a;
    sum_dy_xhat += c;
  }
}
}  // namespace

void batchnorm_stats(const float* x, const BnDims& d, float* mean, float* var) {
  const double inv_m = 1.0 / static_cast<double>(d.M());
  parallel_region(d.N * d.C * d.S >= kMinParallelValues, [&] {
#pragma omp for schedule(static)
    for (int64_t c = 0; c < d.C; ++c) {
      double total = 0.0;
      for (int64_t n = 0; n < d.N; ++n) total += sum(run(x, d, n, c), d.S);
      const auto mu = static_cast<float>(total * inv_m);
      double sq = 0.0;
      for (int64_t n = 0; n < d.N; ++n) sq += sum_sq_dev(run(x, d, n, c), d.S, mu);
      mean[c] = mu;
      var[c] = static_cast<float>(sq * inv_m);
    }
  });
}

void batchnorm_apply(const float* x, const BnDims& d, const float* mean, const float* invstd,
                     const float* gamma, const float* beta, float* y, Fuse fuse, int64_t W, int32_t* argmax) {
  const int64_t H = d.S / W, out_plane = fused_plane_size(fuse, H, W);
  parallel_region(d.N * d.C * d.S >= kMinParallelValues, [&] {
#pragma omp for schedule(static)
    for (int64_t c = 0; c < d.C; ++c) {
      // y = x·a + b with a = γ·invstd, b = β − mean·a.
      const float a = (gamma ? gamma[c] : 1.0f) * invstd[c];
      const float b = (beta ? beta[c] : 0.0f) - mean[c] * a;
      thread_local std::vector<float> plane;  // before the pooling
      if (fuse == Fuse::ReluMaxPool2) plane.resize(static_cast<size_t>(d.S));
      for (int64_t n = 0; n < d.N; ++n) {
        const float* xr = run(x, d, n, c);
        const int64_t at = (n * d.C + c) * out_plane;
        float* yr = fuse == Fuse::ReluMaxPool2 ? plane.data() : y + at;
        if (fuse == Fuse::None) {
          for (int64_t s = 0; s < d.S; ++s) yr[s] = xr[s] * a + b;
          continue;
        }
        for (int64_t s = 0; s < d.S; ++s) {  // the ReLU as relu_forward has it
          const float v = xr[s] * a + b;
          yr[s] = v > 0.0f ? v : 0.0f;
        }
        if (fuse == Fuse::ReluMaxPool2) maxpool2x2_planes(yr, 1, H, W, y + at, argmax + at);
      }
    }
  });
}

void batchnorm_backward(const float* x, const float* dy, const BnDims& d, const float* mean,
                        const float* invstd, const float* gamma, bool batch_stats, float* dx,
                        float* dgamma, float* dbeta, Fuse fuse, const float* y, int64_t W,
                        const int32_t* argmax) {
  const double M = static_cast<double>(d.M());
  const int64_t H = d.S / W, out_plane = fused_plane_size(fuse, H, W);
  parallel_region(d.N * d.C * d.S >= kMinParallelValues, [&] {
#pragma omp for schedule(static)
    for (int64_t c = 0; c < d.C; ++c) {
      // The channel's dy: as given, or back through the fused layers into N runs of S.
      thread_local std::vector<float> unfused;
      if (fuse != Fuse::None) {
        unfused.resize(static_cast<size_t>(d.N * d.S));
        for (int64_t n = 0; n < d.N; ++n) {
          const int64_t at = (n * d.C + c) * out_plane;
          fused_backward_planes(fuse, dy + at, y + at, argmax ? argmax + at : nullptr, 1, H, W,
                                unfused.data() + n * d.S);
        }
      }
      const auto grad = [&](int64_t n) { return fuse == Fuse::None ? run(dy, d, n, c) : unfused.data() + n * d.S; };
      const float mu = mean[c], is = invstd[c];
      double sdy = 0.0, sdyx = 0.0;
      for (int64_t n = 0; n < d.N; ++n) sum_dy_xhat(run(x, d, n, c), grad(n), d.S, mu, is, sdy, sdyx);
      if (dgamma) dgamma[c] += static_cast<float>(sdyx);
      if (dbeta) dbeta[c] += static_cast<float>(sdy);
      if (!dx) continue;
      const float scale = (gamma ? gamma[c] : 1.0f) * is;
      // Train: dx = scale·(dy − mean(dy) − x̂·mean(dy·x̂)); running statistics: scale·dy.
      const float mean_dy = batch_stats ? static_cast<float>(sdy / M) : 0.0f;
      const float mean_dy_xhat = batch_stats ? static_cast<float>(sdyx / M) : 0.0f;
      for (int64_t n = 0; n < d.N; ++n) {
        const float* xr = run(x, d, n, c);
        const float* gr = grad(n);
        float* dr = run(dx, d, n, c);
        for (int64_t s = 0; s < d.S; ++s)
          dr[s] = scale * (gr[s] - mean_dy - (xr[s] - mu) * is * mean_dy_xhat);
      }
    }
  });
}

void batchnorm_stats_ref(const float* x, const BnDims& d, float* mean, float* var) {
  for (int64_t c = 0; c < d.C; ++c) {
    double total = 0.0, sq = 0.0;
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) total += run(x, d, n, c)[s];
    const double mu = total / static_cast<double>(d.M());
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) sq += (run(x, d, n, c)[s] - mu) * (run(x, d, n, c)[s] - mu);
    mean[c] = static_cast<float>(mu);
    var[c] = static_cast<float>(sq / static_cast<double>(d.M()));
  }
}

void batchnorm_backward_ref(const float* x, const float* dy, const BnDims& d, const float* mean,
                            const float* invstd, const float* gamma, bool batch_stats, float* dx,
                            float* dgamma, float* dbeta) {
  const double M = static_cast<double>(d.M());
  for (int64_t c = 0; c < d.C; ++c) {
    double sdy = 0.0, sdyx = 0.0;
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) {
        const double xhat = (static_cast<double>(run(x, d, n, c)[s]) - mean[c]) * invstd[c];
        sdy += run(dy, d, n, c)[s];
        sdyx += run(dy, d, n, c)[s] * xhat;
      }
    if (dgamma) dgamma[c] += static_cast<float>(sdyx);
    if (dbeta) dbeta[c] += static_cast<float>(sdy);
    if (!dx) continue;
    const double scale = (gamma ? gamma[c] : 1.0) * invstd[c];
    for (int64_t n = 0; n < d.N; ++n)
      for (int64_t s = 0; s < d.S; ++s) {
        const double xhat = (static_cast<double>(run(x, d, n, c)[s]) - mean[c]) * invstd[c];
        const double g = run(dy, d, n, c)[s];
        run(dx, d, n, c)[s] = static_cast<float>(scale * (batch_stats ? g - sdy / M - xhat * sdyx / M : g));
      }
  }
}

}  // namespace mnistcnn::kernels
