#include "mnistcnn/kernels/conv_direct.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>

namespace mnistcnn::kernels {

#if defined(__AVX2__)
namespace {

// NB output channels from oc0 on: NB accumulators of 8 outputs, each input vector loaded
// once for all of them. A row's last vector ends at the row's end and overlaps the one
// before it when OW is not a multiple of 8; the overlap is written twice with the same
// values. (Sharing each broadcast weight among 2 or 3 output vectors, with fewer channels
// per block, measured slower on Zen 3.)
template <int NB>
void forward_channels(const float* x, const float* w, const ConvGeometry& g, int64_t oc0, float* out) {
  const int64_t OH = g.OH(), OW = g.OW(), L = OH * OW, KK = g.KH * g.KW;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ow += 8) {
      const int64_t o = std::min(ow, OW - 8);
      __m256 acc[NB];
      for (int j = 0; j < NB; ++j) acc[j] = _mm256_setzero_ps();
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        const float* xr = x + (oh + kh) * g.W + o;
        const float* wk = w + oc0 * KK + kh * g.KW;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const __m256 xv = _mm256_loadu_ps(xr + kw);
          for (int j = 0; j < NB; ++j) acc[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(wk + j * KK + kw), xv, acc[j]);
        }
      }
      for (int j = 0; j < NB; ++j) _mm256_storeu_ps(out + (oc0 + j) * L + oh * OW + o, acc[j]);
    }
}

// The channels after the last whole block: `rest` of them, rest < NB.
template <int NB>
void forward_rest(const float* x, const float* w, const ConvGeometry& g, int64_t oc0, int64_t rest, float* out) {
  if constexpr (NB > 0) {
    if (rest == NB) return forward_channels<NB>(x, w, g, oc0, out);
    forward_rest<NB - 1>(x, w, g, oc0, rest, out);
  }
}

float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_hadd_ps(s, s);
  s = _mm_hadd_ps(s, s);
  return _mm_cvtss_f32(s);
}

// NB channels from oc0 on, one kernel row at a time: NB·KW accumulators, one per
// (channel, kernel column), over every output position; each input vector feeds NB
// products. The row's last partial vector is masked (in dy and in x, so nothing past
// the row is read).
template <int KW, int NB>
void weight_grad_piece(const float* dy, const float* x, const ConvGeometry& g, int64_t oc0, bool accumulate,
                       float* dw) {
  const int64_t OH = g.OH(), OW = g.OW(), L = OH * OW, full = OW / 8 * 8, tail = OW - full;
  alignas(32) int32_t lanes[8];
  for (int j = 0; j < 8; ++j) lanes[j] = j < tail ? -1 : 0;
  const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    __m256 acc[NB][KW];
    for (int j = 0; j < NB; ++j)
      for (int kw = 0; kw < KW; ++kw) acc[j][kw] = _mm256_setzero_ps();
    const auto step = [&](const float* xr, const float* d, auto load) {
      __m256 xv[KW];
      for (int kw = 0; kw < KW; ++kw) xv[kw] = load(xr + kw);
      for (int j = 0; j < NB; ++j) {
        const __m256 dv = load(d + j * L);
        for (int kw = 0; kw < KW; ++kw) acc[j][kw] = _mm256_fmadd_ps(dv, xv[kw], acc[j][kw]);
      }
    };
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* d = dy + oc0 * L + oh * OW;
      const float* xr = x + (oh + kh) * g.W;
      for (int64_t ow = 0; ow < full; ow += 8) step(xr + ow, d + ow, [](const float* p) { return _mm256_loadu_ps(p); });
      if (tail) step(xr + full, d + full, [&](const float* p) { return _mm256_maskload_ps(p, mask); });
    }
    for (int j = 0; j < NB; ++j) {
      float* out = dw + ((oc0 + j) * g.KH + kh) * KW;
      for (int kw = 0; kw < KW; ++kw) out[kw] = (accumulate ? out[kw] : 0.0f) + horizontal_sum(acc[j][kw]);
    }
  }
}

template <int KW, int NB>
void weight_grad_rest(const float* dy, const float* x, const ConvGeometry& g, int64_t oc0, int64_t rest,
                      bool accumulate, float* dw) {
  if constexpr (NB > 0) {
    if (rest == NB) return weight_grad_piece<KW, NB>(dy, x, g, oc0, accumulate, dw);
    weight_grad_rest<KW, NB - 1>(dy, x, g, oc0, rest, accumulate, dw);
  }
}

// NB·KW accumulators, KW input vectors and one of dy fit the 16 registers.
template <int KW>
void weight_grad_kw(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw) {
  constexpr int NB = KW == 1 ? 8 : KW == 2 ? 6 : KW == 3 ? 4 : KW <= 5 ? 2 : 1;
  int64_t oc = 0;
  for (; oc + NB <= g.OC; oc += NB) weight_grad_piece<KW, NB>(dy, x, g, oc, accumulate, dw);
  if (oc < g.OC) weight_grad_rest<KW, NB - 1>(dy, x, g, oc, g.OC - oc, accumulate, dw);
}

}  // namespace

bool direct_conv_applies(const ConvGeometry& g) {
  return g.C == 1 && g.stride == 1 && g.pad == 0 && g.OW() >= 8 && g.KW >= 1 && g.KW <= 8;
}

bool direct_conv_forward(const float* x, const float* w, const ConvGeometry& g, float* out) {
  if (!direct_conv_applies(g)) return false;
  int64_t oc = 0;
  for (; oc + 8 <= g.OC; oc += 8) forward_channels<8>(x, w, g, oc, out);
  if (oc < g.OC) forward_rest<7>(x, w, g, oc, g.OC - oc, out);
  return true;
}

bool direct_conv_weight_grad(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw) {
  if (!direct_conv_applies(g)) return false;
  switch (g.KW) {  // 1 to 8
    case 1: weight_grad_kw<1>(dy, x, g, accumulate, dw); break;
    case 2: weight_grad_kw<2>(dy, x, g, accumulate, dw); break;
    case 3: weight_grad_kw<3>(dy, x, g, accumulate, dw); break;
    case 4: weight_grad_kw<4>(dy, x, g, accumulate, dw); break;
    case 5: weight_grad_kw<5>(dy, x, g, accumulate, dw); break;
    case 6: weight_grad_kw<6>(dy, x, g, accumulate, dw); break;
    case 7: weight_grad_kw<7>(dy, x, g, accumulate, dw); break;
    default: weight_grad_kw<8>(dy, x, g, accumulate, dw); break;
  }
  return true;
}

#else  // without AVX2, columns and gemm do every convolution

bool direct_conv_applies(const ConvGeometry&) { return false; }
bool direct_conv_forward(const float*, const float*, const ConvGeometry&, float*) { return false; }
bool direct_conv_weight_grad(const float*, const float*, const ConvGeometry&, bool, float*) { return false; }

#endif

}  // namespace mnistcnn::kernels
