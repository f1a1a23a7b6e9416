#include "mnistcnn/kernels/conv.h"

#include <omp.h>

#include <algorithm>
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

namespace {

constexpr int64_t kChunk = 4;  // samples per weight-gradient partial sum

int64_t chunks(int64_t N) { return (N + kChunk - 1) / kChunk; }

void forward_sample(const float* x, const float* w, const float* b, const ConvGeometry& g, float* col,
                    float* y) {
  const int64_t L = g.L(), K = g.K();
  im2col(x, g, col, L);
  gemm(false, false, g.OC, L, K, 1.0f, w, K, col, L, 0.0f, y, L);
  if (b)
    for (int64_t oc = 0; oc < g.OC; ++oc)
      for (int64_t l = 0; l < L; ++l) y[oc * L + l] += b[oc];
}

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* b, const ConvGeometry& g,
                    int64_t N, float* col, float* y) {
  const int64_t L = g.L(), K = g.K(), in_size = g.C * g.H * g.W, out_size = g.OC * L;
  if (N < omp_get_max_threads()) {
    // Too few samples to share out: let each gemm use the threads.
    for (int64_t n = 0; n < N; ++n) forward_sample(x + n * in_size, w, b, g, col + n * K * L, y + n * out_size);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) forward_sample(x + n * in_size, w, b, g, col + n * K * L, y + n * out_size);
}

int64_t conv2d_backward_scratch(const ConvGeometry& g, int64_t N, int threads) {
  return chunks(N) * (g.OC * g.K() + g.OC) + static_cast<int64_t>(threads) * g.K() * g.L();
}

void conv2d_backward(const float* dy, const float* w, const ConvGeometry& g, int64_t N,
                     const float* col, float* scratch, float* dw, float* db, float* dx) {
  const int64_t L = g.L(), K = g.K(), OC = g.OC, in_size = g.C * g.H * g.W, out_size = OC * L;
  const int64_t n_chunks = chunks(N);
  float* part_dw = scratch;                     // n_chunks × OC×K
  float* part_db = part_dw + n_chunks * OC * K;  // n_chunks × OC
  float* dcols = part_db + n_chunks * OC;        // threads × K×L
#pragma omp parallel
  {
    float* dcol = dcols + static_cast<int64_t>(omp_get_thread_num()) * K * L;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < n_chunks; ++c) {
      float* pdw = part_dw + c * OC * K;
      float* pdb = part_db + c * OC;
      for (int64_t n = c * kChunk; n < std::min(N, (c + 1) * kChunk); ++n) {
        const float* dyn = dy + n * out_size;
        if (dw)  // dW (OC×K) += dy_n (OC×L) · col_nᵀ (L×K)
          gemm(false, true, OC, K, L, 1.0f, dyn, L, col + n * K * L, L, n == c * kChunk ? 0.0f : 1.0f, pdw, K);
        if (db)
          for (int64_t oc = 0; oc < OC; ++oc) {
            float s = 0.0f;
            for (int64_t l = 0; l < L; ++l) s += dyn[oc * L + l];
            pdb[oc] = n == c * kChunk ? s : pdb[oc] + s;
          }
        if (dx) {  // dcol (K×L) = Wᵀ (K×OC) · dy_n (OC×L), scattered back onto dx_n
          gemm(true, false, K, L, OC, 1.0f, w, K, dyn, L, 0.0f, dcol, L);
          float* dxn = dx + n * in_size;
          std::memset(dxn, 0, sizeof(float) * in_size);
          col2im(dcol, L, g, dxn);
        }
      }
    }
    // Chunk partials summed in chunk order: the same bits for any thread count.
    if (dw) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < OC * K; ++i) {
        float s = 0.0f;
        for (int64_t c = 0; c < n_chunks; ++c) s += part_dw[c * OC * K + i];
        dw[i] += s;
      }
    }
    if (db) {
#pragma omp single
      for (int64_t oc = 0; oc < OC; ++oc) {
        float s = 0.0f;
        for (int64_t c = 0; c < n_chunks; ++c) s += part_db[c * OC + oc];
        db[oc] += s;
      }
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
