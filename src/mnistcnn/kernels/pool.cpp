#include "mnistcnn/kernels/pool.h"

#include <cstring>
#include <limits>

namespace mnistcnn::kernels {

void maxpool_forward(const float* x, int64_t P, const PoolGeometry& g, float* y, int32_t* argmax) {
  const int64_t OH = g.OH(), OW = g.OW(), in_plane = g.H * g.W, out_plane = OH * OW;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p) {
    const float* xp = x + p * in_plane;
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        int32_t best_i = -1;
        for (int64_t kh = 0; kh < g.K; ++kh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.K; ++kw) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            if (iw < 0 || iw >= g.W) continue;
            const float v = xp[ih * g.W + iw];
            // NaN propagates as PyTorch does: a NaN wins the window.
            if (v > best || best_i < 0 || v != v) {
              best = v;
              best_i = static_cast<int32_t>(ih * g.W + iw);
              if (v != v) break;
            }
          }
        }
        y[p * out_plane + oh * OW + ow] = best;
        argmax[p * out_plane + oh * OW + ow] = best_i;
      }
    }
  }
}

void maxpool_backward(const float* dy, const int32_t* argmax, int64_t P, const PoolGeometry& g,
                      float* dx) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH() * g.OW();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p) {
    float* dxp = dx + p * in_plane;
    std::memset(dxp, 0, sizeof(float) * in_plane);
    const float* dyp = dy + p * out_plane;
    const int32_t* ap = argmax + p * out_plane;
    for (int64_t i = 0; i < out_plane; ++i)
      if (ap[i] >= 0) dxp[ap[i]] += dyp[i];
  }
}

void avgpool_forward(const float* x, int64_t P, const PoolGeometry& g, float* y) {
  const int64_t OH = g.OH(), OW = g.OW(), in_plane = g.H * g.W, out_plane = OH * OW;
  const float inv = 1.0f / static_cast<float>(g.K * g.K);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p) {
    const float* xp = x + p * in_plane;
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float s = 0.0f;
        for (int64_t kh = 0; kh < g.K; ++kh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.K; ++kw) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            if (iw >= 0 && iw < g.W) s += xp[ih * g.W + iw];
          }
        }
        y[p * out_plane + oh * OW + ow] = s * inv;
      }
  }
}

void avgpool_backward(const float* dy, int64_t P, const PoolGeometry& g, float* dx) {
  const int64_t OH = g.OH(), OW = g.OW(), in_plane = g.H * g.W, out_plane = OH * OW;
  const float inv = 1.0f / static_cast<float>(g.K * g.K);
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p) {
    float* dxp = dx + p * in_plane;
    std::memset(dxp, 0, sizeof(float) * in_plane);
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float d = dy[p * out_plane + oh * OW + ow] * inv;
        for (int64_t kh = 0; kh < g.K; ++kh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.K; ++kw) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            if (iw >= 0 && iw < g.W) dxp[ih * g.W + iw] += d;
          }
        }
      }
  }
}

}  // namespace mnistcnn::kernels
