#include "mnistcnn/kernels/conv.h"

#include <omp.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <vector>

#include "mnistcnn/kernels/conv_direct.h"
#include "mnistcnn/kernels/gemm.h"
#include "mnistcnn/kernels/pool.h"

namespace mnistcnn::kernels {

namespace {

// Rows of the columns are a few dozen floats, where memcpy/memset calls cost more than
// the copying; full vectors and one masked (AVX-512) or overlapping (AVX2) vector do a row.
inline void copy_row(const float* src, float* dst, int64_t n) {
#if defined(__AVX512F__)
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
  if (i < n) {
    const auto m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
  }
#elif defined(__AVX2__)
  // AVX2's masked stores are slow on some CPUs: the tail is one more full vector ending at
  // the row's end, overlapping what is already copied; rows under 8 go one by one.
  if (n < 8) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
    return;
  }
  for (int64_t i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
  _mm256_storeu_ps(dst + n - 8, _mm256_loadu_ps(src + n - 8));
#else
  std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
#endif
}
inline void zero_row(float* dst, int64_t n) {
#if defined(__AVX512F__)
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_setzero_ps());
  if (i < n) _mm512_mask_storeu_ps(dst + i, static_cast<__mmask16>((1u << (n - i)) - 1), _mm512_setzero_ps());
#elif defined(__AVX2__)
  if (n < 8) {
    for (int64_t i = 0; i < n; ++i) dst[i] = 0.0f;
    return;
  }
  for (int64_t i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_setzero_ps());
  _mm256_storeu_ps(dst + n - 8, _mm256_setzero_ps());
#else
  std::memset(dst, 0, sizeof(float) * static_cast<size_t>(n));
#endif
}

// Stride 1 without padding (padding goes through a zero-bordered copy, below): every
// column row is OH whole input row pieces, copied with no bounds to check. The general
// loop spent most of its time on divisions and spilled registers around rows of a dozen
// floats.
void im2col_unpadded(const float* x, const ConvGeometry& g, float* col, int64_t ld) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        const float* src = x + (c * g.H + kh) * g.W + kw;
        for (int64_t oh = 0; oh < OH; ++oh) copy_row(src + oh * g.W, row + oh * OW, OW);
      }
}

// dx = col2im(col), stride 1, no padding.
void col2im_unpadded(const float* col, int64_t ld, const ConvGeometry& g, float* dx) {
  const int64_t OH = g.OH(), OW = g.OW();
#if defined(__AVX2__)
  // One row of dx at a time: each 8-wide piece sums the KH·KW column rows that land on
  // it in a register, each loaded shifted by kw with the lanes outside the row's OW
  // outputs masked off (masked lanes read nothing, so a shifted start never reads outside
  // col). Adding column rows onto dx rows instead made every kw's unaligned load wait for
  // the previous kw's overlapping store (2.3x slower). Same order of additions as that.
  const int64_t pieces = (g.W + 7) / 8;
  thread_local std::vector<int32_t> masks;  // lane j of piece v for kw: 0 <= 8v + j - kw < OW
  masks.resize(static_cast<size_t>(g.KW * pieces * 8));
  for (int64_t kw = 0; kw < g.KW; ++kw)
    for (int64_t j = 0; j < pieces * 8; ++j) masks[static_cast<size_t>(kw * pieces * 8 + j)] = j - kw >= 0 && j - kw < OW ? -1 : 0;
  for (int64_t c = 0; c < g.C; ++c) {
    const float* colc = col + c * g.KH * g.KW * ld;
    for (int64_t ih = 0; ih < g.H; ++ih) {
      float* dxrow = dx + (c * g.H + ih) * g.W;
      const int64_t kh_lo = std::max<int64_t>(0, ih - OH + 1), kh_hi = std::min(g.KH, ih + 1);  // 0 <= ih-kh < OH
      for (int64_t v = 0; v < pieces; ++v) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t kh = kh_lo; kh < kh_hi; ++kh) {
          const float* base = colc + kh * g.KW * ld + (ih - kh) * OW + 8 * v;
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const auto* m = reinterpret_cast<const __m256i*>(masks.data() + (kw * pieces + v) * 8);
            acc = _mm256_add_ps(acc, _mm256_maskload_ps(base + kw * ld - kw, _mm256_loadu_si256(m)));
          }
        }
        const int64_t n = std::min<int64_t>(8, g.W - 8 * v);
        if (n == 8) {
          _mm256_storeu_ps(dxrow + 8 * v, acc);
        } else {
          alignas(32) float tmp[8];
          _mm256_store_ps(tmp, acc);
          for (int64_t j = 0; j < n; ++j) dxrow[8 * v + j] = tmp[j];
        }
      }
    }
  }
#else
  std::memset(dx, 0, sizeof(float) * static_cast<size_t>(g.C * g.H * g.W));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        float* dst = dx + (c * g.H + kh) * g.W + kw;
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) dst[oh * g.W + ow] += row[oh * OW + ow];
      }
#endif
}

// A padded stride-1 convolution is the unpadded one on a zero-bordered copy of the sample
// (a few KB): cheaper than bounds in every row.
ConvGeometry bordered(const ConvGeometry& g) {
  ConvGeometry b = g;
  b.H += 2 * g.pad;
  b.W += 2 * g.pad;
  b.pad = 0;
  return b;
}

void im2col_stride1(const float* x, const ConvGeometry& g, float* col, int64_t ld) {
  if (g.pad == 0) return im2col_unpadded(x, g, col, ld);
  const ConvGeometry b = bordered(g);
  thread_local std::vector<float> xb;
  xb.assign(static_cast<size_t>(b.C * b.H * b.W), 0.0f);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < g.H; ++ih)
      std::copy_n(x + (c * g.H + ih) * g.W, g.W, xb.data() + (c * b.H + ih + g.pad) * b.W + g.pad);
  im2col_unpadded(xb.data(), b, col, ld);
}

void col2im_stride1(const float* col, int64_t ld, const ConvGeometry& g, float* dx) {
  if (g.pad == 0) return col2im_unpadded(col, ld, g, dx);
  const ConvGeometry b = bordered(g);
  thread_local std::vector<float> dxb;
  dxb.resize(static_cast<size_t>(b.C * b.H * b.W));
  col2im_unpadded(col, ld, b, dxb.data());
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < g.H; ++ih)
      std::copy_n(dxb.data() + (c * b.H + ih + g.pad) * b.W + g.pad, g.W, dx + (c * g.H + ih) * g.W);
}

}  // namespace

// A strided convolution first splits each input row into its S phases
// (columns j, j+S, j+2S, ...), so every row of the columns is a contiguous copy, not a
// gather (which took a quarter of inference time for the stride-2 5x5 convolutions).
void im2col(const float* x, const ConvGeometry& g, float* col, int64_t ld) {
  if (g.stride == 1) return im2col_stride1(x, g, col, ld);
  const int64_t OH = g.OH(), OW = g.OW(), S = g.stride;
  const int64_t PW = (g.W + S - 1) / S;  // width of one phase
  thread_local std::vector<float> phases;
  if (S > 1) phases.resize(static_cast<size_t>(g.H * S * PW));
  for (int64_t c = 0; c < g.C; ++c) {
    const float* xc = x + c * g.H * g.W;
    if (S > 1)  // phases[(ih·S + p)·PW + j] = x[ih][j·S + p]
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t p = 0; p < S; ++p) {
          float* dst = phases.data() + (ih * S + p) * PW;
          for (int64_t j = 0; j * S + p < g.W; ++j) dst[j] = xc[ih * g.W + j * S + p];
        }
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        // Output columns whose input column ow·S + first lies inside the image: [lo, hi).
        const int64_t first = kw - g.pad;
        int64_t lo = first >= 0 ? 0 : (-first + S - 1) / S;
        int64_t hi = g.W - first <= 0 ? 0 : (g.W - first + S - 1) / S;
        lo = std::min(lo, OW);
        hi = std::clamp(hi, lo, OW);
        // Input column ow·S + first = (ow + shift)·S + phase.
        const int64_t phase = ((first % S) + S) % S, shift = (first - phase) / S;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * S - g.pad + kh;
          float* out = row + oh * OW;
          if (ih < 0 || ih >= g.H) {
            zero_row(out, OW);
            continue;
          }
          zero_row(out, lo);
          const float* src = S == 1 ? xc + ih * g.W + first : phases.data() + (ih * S + phase) * PW + shift;
          copy_row(src + lo, out + lo, hi - lo);
          zero_row(out + hi, OW - hi);
        }
      }
    }
  }
}

void col2im(const float* col, int64_t ld, const ConvGeometry& g, float* dx) {
  if (g.stride == 1) return col2im_stride1(col, ld, g, dx);
  std::memset(dx, 0, sizeof(float) * static_cast<size_t>(g.C * g.H * g.W));
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

// Sum of n floats in 8 independent lanes, added up in a fixed order at the end: one
// running sum is a chain of dependent additions (4 cycles each), 8 lanes are a vector.
float lane_sum(const float* p, int64_t n) {
  float lane[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] += p[i + j];
  for (int j = 0; i < n; ++i, ++j) lane[j] += p[i];
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// One sample: columns, product, then bias and the fused layers while the output is in
// cache. full: OC×L scratch for the pooled case.
void forward_sample(const float* x, const float* w, const float* b, const ConvGeometry& g, Fuse fuse,
                    float* col, float* full, float* y, int32_t* argmax) {
  const int64_t L = g.L(), K = g.K();
  float* out = fuse == Fuse::ReluMaxPool2 ? full : y;
  if (!direct_conv_forward(x, w, g, out)) {
    im2col(x, g, col, L);
    gemm(false, false, g.OC, L, K, 1.0f, w, K, col, L, 0.0f, out, L);
  }
  const bool relu = fuse != Fuse::None;
  if (b || relu)
    for (int64_t oc = 0; oc < g.OC; ++oc) {
      const float bias = b ? b[oc] : 0.0f;
      float* o = out + oc * L;
      if (relu)  // without a bias, + 0 changes only -0 to +0, which the ReLU maps to 0 anyway
        for (int64_t l = 0; l < L; ++l) {
          const float v = o[l] + bias;
          o[l] = v > 0.0f ? v : 0.0f;
        }
      else
        for (int64_t l = 0; l < L; ++l) o[l] += bias;
    }
  if (fuse == Fuse::ReluMaxPool2) maxpool2x2_planes(full, g.OC, g.OH(), g.OW(), y, argmax);
}

}  // namespace

int64_t conv2d_output_size(const ConvGeometry& g, Fuse fuse) { return g.OC * fused_plane_size(fuse, g.OH(), g.OW()); }

int64_t conv2d_forward_scratch(const ConvGeometry& g, int threads, Fuse fuse) {
  return static_cast<int64_t>(threads) * (g.K() * g.L() + (fuse == Fuse::ReluMaxPool2 ? g.OC * g.L() : 0));
}

void conv2d_forward(const float* x, const float* w, const float* b, const ConvGeometry& g,
                    int64_t N, float* scratch, float* y, Fuse fuse, int32_t* argmax) {
  const int64_t in_size = g.C * g.H * g.W, out_size = conv2d_output_size(g, fuse);
  const int64_t per_thread = conv2d_forward_scratch(g, 1, fuse);
  if (N == 1) {
    // One sample: let its gemm share out the threads (decided by N, not the thread count,
    // so that every thread count computes the same products).
    forward_sample(x, w, b, g, fuse, scratch, scratch + g.K() * g.L(), y, argmax);
    return;
  }
#pragma omp parallel
  {
    // One sample's columns at a time per thread: they stay in cache for the gemm.
    float* col = scratch + static_cast<int64_t>(omp_get_thread_num()) * per_thread;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n)
      forward_sample(x + n * in_size, w, b, g, fuse, col, col + g.K() * g.L(), y + n * out_size,
                     argmax ? argmax + n * out_size : nullptr);
  }
}

int64_t conv2d_backward_scratch(const ConvGeometry& g, int64_t N, int threads) {
  return chunks(N) * (g.OC * g.K() + g.OC) + static_cast<int64_t>(threads) * (2 * g.K() * g.L() + g.OC * g.L());
}

void conv2d_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                     float* scratch, float* dw, float* db, float* dx, Fuse fuse, const float* y,
                     const int32_t* argmax) {
  const int64_t L = g.L(), K = g.K(), OC = g.OC, in_size = g.C * g.H * g.W, out_size = conv2d_output_size(g, fuse);
  const int64_t n_chunks = chunks(N);
  float* part_dw = scratch;                     // n_chunks × OC×K
  float* part_db = part_dw + n_chunks * OC * K;  // n_chunks × OC
  float* per_thread = part_db + n_chunks * OC;  // threads × (K×L columns, their gradient, OC×L output gradient)
#pragma omp parallel
  {
    float* col = per_thread + static_cast<int64_t>(omp_get_thread_num()) * (2 * K * L + OC * L);
    float* dcol = col + K * L;
    float* unfused = dcol + K * L;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < n_chunks; ++c) {
      float* pdw = part_dw + c * OC * K;
      float* pdb = part_db + c * OC;
      for (int64_t n = c * kChunk; n < std::min(N, (c + 1) * kChunk); ++n) {
        const float* dyn = dy + n * out_size;
        if (fuse != Fuse::None) {
          fused_backward_planes(fuse, dyn, y + n * out_size, argmax ? argmax + n * out_size : nullptr, OC, g.OH(),
                                g.OW(), unfused);
          dyn = unfused;
        }
        // dW (OC×K) += dy_n (OC×L) · col_nᵀ (L×K), directly or with the columns rebuilt (not kept)
        if (dw && !direct_conv_weight_grad(dyn, x + n * in_size, g, n != c * kChunk, pdw)) {
          im2col(x + n * in_size, g, col, L);
          gemm(false, true, OC, K, L, 1.0f, dyn, L, col, L, n == c * kChunk ? 0.0f : 1.0f, pdw, K);
        }
        if (db)
          for (int64_t oc = 0; oc < OC; ++oc) {
            const float s = lane_sum(dyn + oc * L, L);
            pdb[oc] = n == c * kChunk ? s : pdb[oc] + s;
          }
        if (dx) {  // dcol (K×L) = Wᵀ (K×OC) · dy_n (OC×L), scattered back onto dx_n
          gemm(true, false, K, L, OC, 1.0f, w, K, dyn, L, 0.0f, dcol, L);
          col2im(dcol, L, g, dx + n * in_size);
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
