#include "mnistcnn/kernels/conv.h"

#include <cstring>

#include "mnistcnn/kernels/gemm.h"

namespace mnistcnn::kernels {

void im2col(const float* x, const ConvGeometry& g, float* col, int64_t ld) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t c = 0; c < g.C; ++c) {
    const float* xc = x + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          float* out = row + oh * OW;
          if (ih < 0 || ih >= g.H) {
            std::memset(out, 0, sizeof(float) * OW);
            continue;
          }
          const float* xrow = xc + ih * g.W;
          if (g.stride == 1) {
            // Valid ow range: 0 <= ow - pad + kw < W.
            int64_t lo = g.pad - kw, hi = g.W + g.pad - kw;
            lo = lo < 0 ? 0 : (lo > OW ? OW : lo);
            hi = hi > OW ? OW : (hi < lo ? lo : hi);
            for (int64_t ow = 0; ow < lo; ++ow) out[ow] = 0.0f;
            for (int64_t ow = lo; ow < hi; ++ow) out[ow] = xrow[ow - g.pad + kw];
            for (int64_t ow = hi; ow < OW; ++ow) out[ow] = 0.0f;
          } else {
            for (int64_t ow = 0; ow < OW; ++ow) {
              const int64_t iw = ow * g.stride - g.pad + kw;
              out[ow] = (iw >= 0 && iw < g.W) ? xrow[iw] : 0.0f;
            }
          }
        }
      }
    }
  }
}

void col2im(const float* col, int64_t ld, const ConvGeometry& g, float* dx) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t c = 0; c < g.C; ++c) {
    float* dxc = dx + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          float* dxrow = dxc + ih * g.W;
          const float* in = row + oh * OW;
          if (g.stride == 1) {
            int64_t lo = g.pad - kw, hi = g.W + g.pad - kw;
            lo = lo < 0 ? 0 : (lo > OW ? OW : lo);
            hi = hi > OW ? OW : (hi < lo ? lo : hi);
            for (int64_t ow = lo; ow < hi; ++ow) dxrow[ow - g.pad + kw] += in[ow];
            continue;
          }
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t iw = ow * g.stride - g.pad + kw;
            if (iw >= 0 && iw < g.W) dxrow[iw] += in[ow];
          }
        }
      }
    }
  }
}

void conv2d_forward(const float* x, const float* w, const float* b, const ConvGeometry& g,
                    int64_t N, float* col, float* tmp, float* y) {
  const int64_t L = g.L(), K = g.K(), NL = N * L, in_size = g.C * g.H * g.W;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) im2col(x + n * in_size, g, col + n * L, NL);
  // tmp (OC × N·L) = w (OC × K) · col (K × N·L)
  gemm(false, false, g.OC, NL, K, 1.0f, w, K, col, NL, 0.0f, tmp, NL);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t oc = 0; oc < g.OC; ++oc) {
      const float* src = tmp + oc * NL + n * L;
      float* dst = y + (n * g.OC + oc) * L;
      const float bias = b ? b[oc] : 0.0f;
      for (int64_t l = 0; l < L; ++l) dst[l] = src[l] + bias;
    }
  }
}

void conv2d_backward(const float* dy, const float* w, const ConvGeometry& g, int64_t N,
                     float* col, float* tmp, float* dw, float* db, float* dx) {
  const int64_t L = g.L(), K = g.K(), NL = N * L, in_size = g.C * g.H * g.W;
  // dy (N × OC × L) -> tmp (OC × N·L), the layout of the forward gemm's output.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      std::memcpy(tmp + oc * NL + n * L, dy + (n * g.OC + oc) * L, sizeof(float) * L);
  if (db) {
    for (int64_t oc = 0; oc < g.OC; ++oc) {
      const float* row = tmp + oc * NL;
      double s = 0.0;
      for (int64_t i = 0; i < NL; ++i) s += row[i];
      db[oc] += static_cast<float>(s);
    }
  }
  // dw (OC × K) += tmp (OC × N·L) · colᵀ (N·L × K)
  if (dw) gemm(false, true, g.OC, K, NL, 1.0f, tmp, NL, col, NL, 1.0f, dw, K);
  if (dx) {
    // col (K × N·L) = wᵀ (K × OC) · tmp (OC × N·L); the forward columns are no longer needed.
    gemm(true, false, K, NL, g.OC, 1.0f, w, K, tmp, NL, 0.0f, col, NL);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      float* dxn = dx + n * in_size;
      std::memset(dxn, 0, sizeof(float) * in_size);
      col2im(col + n * L, NL, g, dxn);
    }
  }
}

void conv2d_forward_ref(const float* x, const float* w, const float* b, const ConvGeometry& g,
                        int64_t N, float* y) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b ? b[oc] : 0.0;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = oh * g.stride - g.pad + kh, iw = ow * g.stride - g.pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                acc += static_cast<double>(x[((n * g.C + c) * g.H + ih) * g.W + iw]) *
                       w[((oc * g.C + c) * g.KH + kh) * g.KW + kw];
              }
          y[((n * g.OC + oc) * OH + oh) * OW + ow] = static_cast<float>(acc);
        }
}

void conv2d_backward_ref(const float* x, const float* dy, const float* w, const ConvGeometry& g,
                         int64_t N, float* dw, float* db, float* dx) {
  const int64_t OH = g.OH(), OW = g.OW();
  if (dx) std::memset(dx, 0, sizeof(float) * N * g.C * g.H * g.W);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const float d = dy[((n * g.OC + oc) * OH + oh) * OW + ow];
          if (db) db[oc] += d;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = oh * g.stride - g.pad + kh, iw = ow * g.stride - g.pad + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const int64_t xi = ((n * g.C + c) * g.H + ih) * g.W + iw;
                const int64_t wi = ((oc * g.C + c) * g.KH + kh) * g.KW + kw;
                if (dw) dw[wi] += d * x[xi];
                if (dx) dx[xi] += d * w[wi];
              }
        }
}

}  // namespace mnistcnn::kernels
