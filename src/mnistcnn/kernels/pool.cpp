#include "mnistcnn/kernels/pool.h"

#include <cstring>
#include <limits>

namespace mnistcnn::kernels {

// The common case, 2×2 windows with stride 2 and no padding: branch-free selects that
// the compiler vectorises. Same result as the general loop (first maximum on ties,
// NaN wins).
void maxpool2x2_planes(const float* x, int64_t P, int64_t H, int64_t W, float* y, int32_t* argmax) {
  const PoolGeometry g{.H = H, .W = W, .K = 2, .stride = 2, .pad = 0};
  const int64_t OH = g.OH(), OW = g.OW(), in_plane = g.H * g.W, out_plane = OH * OW;
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t r0 = 2 * oh * g.W, r1 = r0 + g.W;
      const float* a = x + p * in_plane + r0;
      const float* b = x + p * in_plane + r1;
      float* yo = y + p * out_plane + oh * OW;
      int32_t* ao = argmax + p * out_plane + oh * OW;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float v0 = a[2 * ow], v1 = a[2 * ow + 1], v2 = b[2 * ow], v3 = b[2 * ow + 1];
        const int32_t i0 = static_cast<int32_t>(r0 + 2 * ow);
        float best = v0;
        int32_t bi = i0;
        // Take v when it is larger, or NaN while best is not.
        const bool t1 = v1 > best || (v1 != v1 && best == best);
        best = t1 ? v1 : best;
        bi = t1 ? i0 + 1 : bi;
        const bool t2 = v2 > best || (v2 != v2 && best == best);
        best = t2 ? v2 : best;
        bi = t2 ? static_cast<int32_t>(r1 + 2 * ow) : bi;
        const bool t3 = v3 > best || (v3 != v3 && best == best);
        best = t3 ? v3 : best;
        bi = t3 ? static_cast<int32_t>(r1 + 2 * ow + 1) : bi;
        yo[ow] = best;
        ao[ow] = bi;
      }
    }
  }
}

void maxpool_forward(const float* x, int64_t P, const PoolGeometry& g, float* y, int32_t* argmax) {
  if (g.K == 2 && g.stride == 2 && g.pad == 0) {
    const int64_t in_plane = g.H * g.W, out_plane = g.OH() * g.OW();
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < P; ++p)
      maxpool2x2_planes(x + p * in_plane, 1, g.H, g.W, y + p * out_plane, argmax + p * out_plane);
    return;
  }
  maxpool_forward_ref(x, P, g, y, argmax);
}

void maxpool_forward_ref(const float* x, int64_t P, const PoolGeometry& g, float* y, int32_t* argmax) {
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
            // NaN propagates as PyTorch does: the first NaN wins the window.
            if (v > best || best_i < 0 || (v != v && best == best)) {
              best = v;
              best_i = static_cast<int32_t>(ih * g.W + iw);
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

void global_avgpool_forward(const float* x, int64_t P, int64_t HW, float* y) {
  for (int64_t p = 0; p < P; ++p) {
    const float* xp = x + p * HW;
    double s = 0.0;
    for (int64_t i = 0; i < HW; ++i) s += xp[i];
    y[p] = static_cast<float>(s / static_cast<double>(HW));
  }
}

void global_avgpool_backward(const float* dy, int64_t P, int64_t HW, float* dx) {
  const float inv = 1.0f / static_cast<float>(HW);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < HW; ++i) dx[p * HW + i] = dy[p] * inv;
}

}  // namespace mnistcnn::kernels
