#include "mnistcnn/kernels/conv_strided.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <vector>

#include "mnistcnn/kernels/conv_detail.h"

namespace mnistcnn::kernels {

int64_t strided_packed_size(const ConvGeometry& g) { return g.OC * g.K(); }

#if defined(__AVX2__) && defined(__FMA__)
namespace {

// Every kernel below keeps R·V accumulators in one array, acc[r·V + v], and every loop over
// it must be unrolled completely, or GCC keeps the array in memory and stores each
// accumulator after every product (a third of the speed, seen in the disassembly). Hence
// "unroll 16": a loop of more iterations (R·V = 10 or 12) than the pragma's count is not.
#define MNISTCNN_UNROLL _Pragma("GCC unroll 16")

// Positions per register block: R·V accumulators (V vectors of 8 channels), V loaded
// vectors and one broadcast fit the 16 registers for R = 6, V = 2.
constexpr int kBlock = 6;

// Channel blocks of 16, then one of 8 when the count is an odd multiple of 8.
template <typename F>
void for_channel_blocks(int64_t n, F&& f) {
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) f(c, 2);
  if (c < n) f(c, 1);
}

// Calls f.template operator()<R, V>() for runtime r (1..kBlock) and v (1, 2).
template <typename F>
void dispatch(int64_t r, int v, F&& f) {
  const auto with_v = [&]<int R>() {
    if (v == 2) f.template operator()<R, 2>();
    else f.template operator()<R, 1>();
  };
  switch (r) {
    case 1: with_v.template operator()<1>(); break;
    case 2: with_v.template operator()<2>(); break;
    case 3: with_v.template operator()<3>(); break;
    case 4: with_v.template operator()<4>(); break;
    case 5: with_v.template operator()<5>(); break;
    default: with_v.template operator()<6>(); break;
  }
}

// Sums run in two levels: the accumulators take at most ~128 products, then go into sum
// (in memory) and start again. One running sum over a whole patch (800 and 1,600 products
// in record's 5x5 layers) drifted past the kernel tests' tolerance, which the columns'
// gemm, summing in blocks, met.
constexpr int64_t kTermsPerSum = 128;

template <int R, int V>
void add_and_clear(float (&sum)[R][8 * V], __m256 (&acc)[R * V]) {
  MNISTCNN_UNROLL for (int r = 0; r < R; ++r)
    MNISTCNN_UNROLL for (int v = 0; v < V; ++v) {
      _mm256_store_ps(sum[r] + 8 * v, _mm256_add_ps(_mm256_load_ps(sum[r] + 8 * v), acc[r * V + v]));
      acc[r * V + v] = _mm256_setzero_ps();
    }
}

// Lane i of sum[r][8v..] is channel 8v + i at position r: dst[(8v + i)·stride + pos[r]].
template <int R, int V>
void store_transposed(const float (&sum)[R][8 * V], const int64_t* pos, int64_t stride, float* dst) {
  for (int i = 0; i < 8 * V; ++i)
    MNISTCNN_UNROLL for (int r = 0; r < R; ++r) dst[i * stride + pos[r]] = sum[r][i];
}

// R output positions (input offsets offsets[r] in the bordered sample) times 8V output
// channels, over nk patch elements: w is their packed weights (nk × 8V), taps[k] the input
// offset of element k (one loop over the patch, not three over c, kh, kw). Added to sum
// (R × 8V).
template <int R, int V>
void forward_block(const float* xb, const float* w, const int64_t* taps, int64_t nk, const int64_t* offsets,
                   float* sum) {
  int64_t off[R];
  MNISTCNN_UNROLL for (int r = 0; r < R; ++r) off[r] = offsets[r];
  __m256 acc[R * V];
  MNISTCNN_UNROLL for (int i = 0; i < R * V; ++i) acc[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < nk; ++k, w += 8 * V) {
    const float* xk = xb + taps[k];
    __m256 wv[V];
    MNISTCNN_UNROLL for (int v = 0; v < V; ++v) wv[v] = _mm256_loadu_ps(w + 8 * v);
    MNISTCNN_UNROLL for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_broadcast_ss(xk + off[r]);
      MNISTCNN_UNROLL for (int v = 0; v < V; ++v) acc[r * V + v] = _mm256_fmadd_ps(xv, wv[v], acc[r * V + v]);
    }
  }
  MNISTCNN_UNROLL for (int i = 0; i < R * V; ++i)
    _mm256_storeu_ps(sum + 8 * i, _mm256_add_ps(_mm256_loadu_ps(sum + 8 * i), acc[i]));
}

// R input positions of one phase plane (rows ≡ ph, columns ≡ pw mod S: the same taps
// reach all of them) times 8V input channels. Tap t reads the bordered dy from
// dy_taps[t] on (offsets[r] further for position r) with the weights at w_taps[t]·8V.
template <int R, int V>
void input_grad_block(const float* dyb, int64_t planeB, const float* w, const int64_t* dy_taps,
                      const int64_t* w_taps, int64_t n_taps, int64_t OC, const int64_t* offsets, const int64_t* pos,
                      int64_t HW, float* dx) {
  int64_t off[R];
  MNISTCNN_UNROLL for (int r = 0; r < R; ++r) off[r] = offsets[r];
  __m256 acc[R * V];
  MNISTCNN_UNROLL for (int i = 0; i < R * V; ++i) acc[i] = _mm256_setzero_ps();
  alignas(32) float sum[R][8 * V] = {};
  const int64_t taps_per_sum = std::max<int64_t>(1, kTermsPerSum / OC);
  for (int64_t t = 0; t < n_taps; ++t) {
    const float* d = dyb + dy_taps[t];
    const float* wk = w + w_taps[t] * (8 * V);
    for (int64_t oc = 0; oc < OC; ++oc, d += planeB, wk += 8 * V) {
      __m256 wv[V];
      MNISTCNN_UNROLL for (int v = 0; v < V; ++v) wv[v] = _mm256_loadu_ps(wk + 8 * v);
      MNISTCNN_UNROLL for (int r = 0; r < R; ++r) {
        const __m256 dv = _mm256_broadcast_ss(d + off[r]);
        MNISTCNN_UNROLL for (int v = 0; v < V; ++v) acc[r * V + v] = _mm256_fmadd_ps(dv, wv[v], acc[r * V + v]);
      }
    }
    if ((t + 1) % taps_per_sum == 0 || t + 1 == n_taps) add_and_clear<R, V>(sum, acc);
  }
  store_transposed<R, V>(sum, pos, HW, dx);
}

// R kernel columns from kw0 of kernel row kh, input channel c, times 8V output channels
// from oc0, summed over the output positions of samples [s0, s1) laid out by
// strided_weight_grad_layout (layout_size floats apart: the bordered input, Hb×Wb planes,
// then dy channels-last at dy_at), and added to sum (R × 8V).
template <int R, int V>
void weight_grad_block(const float* layouts, int64_t s0, int64_t s1, int64_t layout_size, int64_t dy_at,
                       const ConvGeometry& g, int64_t Hb, int64_t Wb, int64_t c, int64_t kh, int64_t kw0, int64_t oc0,
                       float* sum) {
  const int64_t S = g.stride, OH = g.OH(), OW = g.OW();
  __m256 acc[R * V];
  MNISTCNN_UNROLL for (int i = 0; i < R * V; ++i) acc[i] = _mm256_setzero_ps();
  for (int64_t s = s0; s < s1; ++s) {
    const float* xb = layouts + s * layout_size + (c * Hb + kh) * Wb + kw0;
    const float* d = layouts + s * layout_size + dy_at + oc0;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* xr = xb + oh * S * Wb;
      for (int64_t ow = 0; ow < OW; ++ow, d += g.OC) {
        __m256 dv[V];
        MNISTCNN_UNROLL for (int v = 0; v < V; ++v) dv[v] = _mm256_loadu_ps(d + 8 * v);
        MNISTCNN_UNROLL for (int r = 0; r < R; ++r) {
          const __m256 xv = _mm256_broadcast_ss(xr + ow * S + r);
          MNISTCNN_UNROLL for (int v = 0; v < V; ++v) acc[r * V + v] = _mm256_fmadd_ps(xv, dv[v], acc[r * V + v]);
        }
      }
    }
  }
  MNISTCNN_UNROLL for (int i = 0; i < R * V; ++i)
    _mm256_storeu_ps(sum + 8 * i, _mm256_add_ps(_mm256_loadu_ps(sum + 8 * i), acc[i]));
}

#undef MNISTCNN_UNROLL

}  // namespace

bool strided_conv_applies(const ConvGeometry& g) {
  return g.stride >= 2 && g.C > 0 && g.C % 8 == 0 && g.OC > 0 && g.OC % 8 == 0 && g.OH() > 0 && g.OW() > 0;
}

void strided_pack_forward(const float* w, const ConvGeometry& g, float* wp) {
  const int64_t K = g.K();
#pragma omp for schedule(static)
  for (int64_t k = 0; k < K; ++k)
    for_channel_blocks(g.OC, [&](int64_t oc0, int V) {
      for (int i = 0; i < 8 * V; ++i) wp[oc0 * K + k * 8 * V + i] = w[(oc0 + i) * K + k];
    });
}

void strided_forward(const float* x, const float* wp, const ConvGeometry& g, float* out) {
  const int64_t Hb = g.H + 2 * g.pad, Wb = g.W + 2 * g.pad, OW = g.OW(), L = g.L(), K = g.K(), S = g.stride;
  thread_local std::vector<float> xb;
  xb.resize(static_cast<size_t>(g.C * Hb * Wb));
  conv_detail::bordered_copy(x, g, xb.data());
  // Offsets of the output positions and of the patch elements in the bordered sample,
  // built once per geometry and thread, not for every sample.
  thread_local std::vector<int64_t> offsets, taps;
  thread_local ConvGeometry tables_for{};
  if (!(tables_for == g)) {
    offsets.clear();
    for (int64_t oh = 0; oh < g.OH(); ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) offsets.push_back(oh * S * Wb + ow * S);
    taps.clear();
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) taps.push_back((c * Hb + kh) * Wb + kw);
    tables_for = g;
  }
  // Patch elements in slices of kTermsPerSum, every position block through one slice
  // before the next: the slice's weights (8 KB) and input rows stay in L1 across the
  // blocks. Each block's slice sum goes into sums (L × 8V), which is then transposed.
  thread_local std::vector<float> sums;
  sums.resize(static_cast<size_t>(L * 16));
  for_channel_blocks(g.OC, [&](int64_t oc0, int V) {
    std::fill_n(sums.begin(), L * 8 * V, 0.0f);
    for (int64_t k0 = 0; k0 < K; k0 += kTermsPerSum)
      for (int64_t l0 = 0; l0 < L; l0 += kBlock)
        dispatch(std::min<int64_t>(kBlock, L - l0), V, [&]<int R, int VV>() {
          forward_block<R, VV>(xb.data(), wp + oc0 * K + k0 * 8 * VV, taps.data() + k0,
                               std::min(kTermsPerSum, K - k0), offsets.data() + l0, sums.data() + l0 * 8 * VV);
        });
    for (int i = 0; i < 8 * V; ++i)
      for (int64_t l = 0; l < L; ++l) out[(oc0 + i) * L + l] = sums[static_cast<size_t>(l * 8 * V + i)];
  });
}

void strided_pack_input_grad(const float* w, const ConvGeometry& g, float* wp) {
  const int64_t taps = g.KH * g.KW;
#pragma omp for schedule(static)
  for (int64_t t = 0; t < taps; ++t)
    for_channel_blocks(g.C, [&](int64_t c0, int V) {
      float* dst = wp + c0 * taps * g.OC;
      for (int64_t oc = 0; oc < g.OC; ++oc)
        for (int i = 0; i < 8 * V; ++i) dst[(t * g.OC + oc) * 8 * V + i] = w[(oc * g.C + c0 + i) * taps + t];
    });
}

void strided_input_grad(const float* dy, const float* wp, const ConvGeometry& g, float* dx) {
  const int64_t S = g.stride, OH = g.OH(), OW = g.OW();
  // dy with B zero rows and columns on each side: every tap of every input position
  // reads inside it, (ih + pad - kh)/S from -(KH-1)/S to OH - 1 + (KH-1)/S.
  const int64_t B = (std::max(g.KH, g.KW) - 1) / S + 1, OHb = OH + 2 * B, OWb = OW + 2 * B, planeB = OHb * OWb;
  thread_local std::vector<float> dyb;
  dyb.assign(static_cast<size_t>(g.OC * planeB), 0.0f);
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t oh = 0; oh < OH; ++oh)
      std::copy_n(dy + (oc * OH + oh) * OW, OW, dyb.data() + oc * planeB + (oh + B) * OWb + B);
  thread_local std::vector<int64_t> dy_taps, w_taps, offsets, pos;
  for (int64_t ph = 0; ph < std::min(S, g.H); ++ph)
    for (int64_t pw = 0; pw < std::min(S, g.W); ++pw) {
      // The plane's positions (ph + S·a, pw + S·m), row by row, and the taps that reach them.
      const int64_t rows = (g.H - ph + S - 1) / S, cols = (g.W - pw + S - 1) / S, n = rows * cols;
      offsets.resize(static_cast<size_t>(n));
      pos.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        offsets[static_cast<size_t>(i)] = (i / cols) * OWb + i % cols;
        pos[static_cast<size_t>(i)] = (ph + S * (i / cols)) * g.W + pw + S * (i % cols);
      }
      dy_taps.clear();
      w_taps.clear();
      for (int64_t kh = (ph + g.pad) % S; kh < g.KH; kh += S)
        for (int64_t kw = (pw + g.pad) % S; kw < g.KW; kw += S) {
          dy_taps.push_back(((ph + g.pad - kh) / S + B) * OWb + (pw + g.pad - kw) / S + B);
          w_taps.push_back((kh * g.KW + kw) * g.OC);
        }
      for_channel_blocks(g.C, [&](int64_t c0, int V) {
        for (int64_t i0 = 0; i0 < n; i0 += kBlock)
          dispatch(std::min<int64_t>(kBlock, n - i0), V, [&]<int R, int VV>() {
            input_grad_block<R, VV>(dyb.data(), planeB, wp + c0 * g.KH * g.KW * g.OC, dy_taps.data(), w_taps.data(),
                                    static_cast<int64_t>(dy_taps.size()), g.OC, offsets.data() + i0, pos.data() + i0,
                                    g.H * g.W, dx + c0 * g.H * g.W);
          });
      });
    }
}

int64_t strided_weight_grad_layout_size(const ConvGeometry& g) {
  return g.C * (g.H + 2 * g.pad) * (g.W + 2 * g.pad) + g.L() * g.OC;
}

void strided_weight_grad_layout(const float* dy, const float* x, const ConvGeometry& g, float* layout) {
  const int64_t Hb = g.H + 2 * g.pad, Wb = g.W + 2 * g.pad, L = g.L();
  conv_detail::bordered_copy(x, g, layout);
  float* dyt = layout + g.C * Hb * Wb;
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t l = 0; l < L; ++l) dyt[l * g.OC + oc] = dy[oc * L + l];
}

// Input channels per work item. An item goes through the batch a pass (a few samples) at a
// time, all its channels and kernel rows per pass, so that the pass's dy (the item's
// channel block) is read from L1 again, not from L3 once per channel and kernel row: the
// batch's dy, channels-last, is over 1 MB for the 24x24 layer.
constexpr int64_t kChannelsPerItem = 4;

int64_t channel_groups(const ConvGeometry& g) { return (g.C + kChannelsPerItem - 1) / kChannelsPerItem; }

// Item i: output channel block i / channel_groups (16 channels, the last 8 when OC is an
// odd multiple of 8), input channels kChannelsPerItem·(i % channel_groups) on.
int64_t strided_weight_grad_items(const ConvGeometry& g) { return (g.OC + 15) / 16 * channel_groups(g); }

void strided_weight_grad_item(const float* layouts, int64_t N, const ConvGeometry& g, int64_t item, float* dw) {
  const int64_t Hb = g.H + 2 * g.pad, Wb = g.W + 2 * g.pad, K = g.K(), KK = g.KH * g.KW;
  const int64_t oc0 = item / channel_groups(g) * 16, c0 = item % channel_groups(g) * kChannelsPerItem;
  const int64_t c1 = std::min(g.C, c0 + kChannelsPerItem), layout_size = strided_weight_grad_layout_size(g);
  const int V = oc0 + 16 <= g.OC ? 2 : 1;
  // Samples per pass: about kTermsPerSum output positions, then the pass is added to sums
  // ((c - c0) × KH × KW × 8V).
  const int64_t per_pass = std::max<int64_t>(1, kTermsPerSum / g.L());
  thread_local std::vector<float> sums;
  sums.assign(static_cast<size_t>((c1 - c0) * KK * 8 * V), 0.0f);
  for (int64_t s0 = 0; s0 < N; s0 += per_pass)
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw0 = 0; kw0 < g.KW; kw0 += kBlock)
          dispatch(std::min<int64_t>(kBlock, g.KW - kw0), V, [&]<int R, int VV>() {
            weight_grad_block<R, VV>(layouts, s0, std::min(N, s0 + per_pass), layout_size, g.C * Hb * Wb, g, Hb, Wb, c,
                                     kh, kw0, oc0, sums.data() + (((c - c0) * g.KH + kh) * g.KW + kw0) * 8 * VV);
          });
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t t = 0; t < KK; ++t)
      for (int i = 0; i < 8 * V; ++i) dw[(oc0 + i) * K + c * KK + t] += sums[static_cast<size_t>(((c - c0) * KK + t) * 8 * V + i)];
}

#else  // without AVX2 and FMA, columns and gemm do every convolution

bool strided_conv_applies(const ConvGeometry&) { return false; }
void strided_pack_forward(const float*, const ConvGeometry&, float*) {}
void strided_forward(const float*, const float*, const ConvGeometry&, float*) {}
void strided_pack_input_grad(const float*, const ConvGeometry&, float*) {}
void strided_input_grad(const float*, const float*, const ConvGeometry&, float*) {}
int64_t strided_weight_grad_layout_size(const ConvGeometry&) { return 0; }
void strided_weight_grad_layout(const float*, const float*, const ConvGeometry&, float*) {}
int64_t strided_weight_grad_items(const ConvGeometry&) { return 0; }
void strided_weight_grad_item(const float*, int64_t, const ConvGeometry&, int64_t, float*) {}

#endif

}  // namespace mnistcnn::kernels
