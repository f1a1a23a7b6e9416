#include "mnistcnn/kernels/conv_direct.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <utility>
#include <vector>

#include "mnistcnn/kernels/conv_detail.h"

namespace mnistcnn::kernels {

#if defined(__AVX2__)
namespace {

using conv_detail::Lanes8;
#if defined(__AVX512F__)
using conv_detail::Lanes16;
#endif

// NB output channels from oc0 on: NB accumulators of one vector of outputs, each input
// vector loaded once for all of them. With AVX-512 a row's last partial vector is masked
// (a row under 16, as lenet's second layer's 11, takes one vector); with AVX2 (whose
// masked stores are slow on some CPUs) it ends at the row's end and overlaps the one
// before it when OW is not a multiple of 8, the overlap written twice with the same
// values. (Sharing each broadcast weight among 2 or 3 output vectors, with fewer channels
// per block, measured slower on Zen 3.)
// KWc: the kernel's width when known at compile time (3 and 5: unrolled), else 0.
template <class T, int NB, int KWc>
void forward_channels(const float* x, const float* w, const ConvGeometry& g, int64_t oc0, float* out) {
  const int64_t KW = KWc ? KWc : g.KW, OH = g.OH(), OW = g.OW(), L = OH * OW, KK = g.C * g.KH * KW;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ow += T::width) {
      constexpr bool masked = T::width == 16;
      const int64_t o = masked ? ow : std::min(ow, OW - T::width);
      const typename T::Mask m = T::first(OW - o);
      typename T::V acc[NB];
      for (int j = 0; j < NB; ++j) acc[j] = T::zero();
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          const float* xr = x + (c * g.H + oh + kh) * g.W + o;
          const float* wk = w + oc0 * KK + (c * g.KH + kh) * KW;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const typename T::V xv = masked ? T::load(xr + kw, m) : T::load(xr + kw);
            for (int j = 0; j < NB; ++j) acc[j] = T::fmadd(T::broadcast(wk + j * KK + kw), xv, acc[j]);
          }
        }
      for (int j = 0; j < NB; ++j) {
        float* at = out + (oc0 + j) * L + oh * OW + o;
        if constexpr (masked)
          T::store(at, acc[j], m);
        else
          T::store(at, acc[j]);
      }
    }
}

// Both forward kernels' dispatch: run(.template operator()<NB, KWc>(oc0)) over the output
// channels in blocks of 8 and a last block of 1 to 7, with KWc the kernel's width when it
// is 3 or 5 (unrolled at compile time), else 0 (a run-time loop).
template <class Run>
void for_channel_blocks(const ConvGeometry& g, Run&& run) {
  const auto blocks = [&]<int KWc>() {
    int64_t oc = 0;
    for (; oc + 8 <= g.OC; oc += 8) run.template operator()<8, KWc>(oc);
    [&]<int... R>(std::integer_sequence<int, R...>) {  // the rest, 1 to 7 channels
      ((g.OC - oc == R + 1 ? run.template operator()<R + 1, KWc>(oc) : void()), ...);
    }(std::make_integer_sequence<int, 7>{});
  };
  if (g.KW == 3)
    blocks.template operator()<3>();
  else if (g.KW == 5)
    blocks.template operator()<5>();
  else
    blocks.template operator()<0>();
}

template <class T>
void forward_all(const float* x, const float* w, const ConvGeometry& g, float* out) {
  for_channel_blocks(g, [&]<int NB, int KWc>(int64_t oc) { forward_channels<T, NB, KWc>(x, w, g, oc, out); });
}

// NB channels from oc0 on, one kernel row at a time: NB·KW accumulators, one per
// (channel, kernel column), over every output position; each input vector feeds NB
// products. The row's last partial vector is masked (in dy and in x, so nothing past
// the row is read).
template <class T, int KW, int NB>
void weight_grad_piece(const float* dy, const float* x, const ConvGeometry& g, int64_t oc0, bool accumulate,
                       float* dw) {
  using V = typename T::V;
  const int64_t OH = g.OH(), OW = g.OW(), L = OH * OW, full = OW / T::width * T::width, tail = OW - full;
  const typename T::Mask mask = T::first(tail);
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    V acc[NB][KW];
    for (int j = 0; j < NB; ++j)
      for (int kw = 0; kw < KW; ++kw) acc[j][kw] = T::zero();
    const auto step = [&](const float* xr, const float* d, auto load) {
      V xv[KW];
      for (int kw = 0; kw < KW; ++kw) xv[kw] = load(xr + kw);
      for (int j = 0; j < NB; ++j) {
        const V dv = load(d + j * L);
        for (int kw = 0; kw < KW; ++kw) acc[j][kw] = T::fmadd(dv, xv[kw], acc[j][kw]);
      }
    };
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* d = dy + oc0 * L + oh * OW;
      const float* xr = x + (oh + kh) * g.W;
      for (int64_t ow = 0; ow < full; ow += T::width) step(xr + ow, d + ow, [](const float* p) { return T::load(p); });
      if (tail) step(xr + full, d + full, [&](const float* p) { return T::load(p, mask); });
    }
    for (int j = 0; j < NB; ++j) {
      float* out = dw + ((oc0 + j) * g.KH + kh) * KW;
      for (int kw = 0; kw < KW; ++kw) out[kw] = (accumulate ? out[kw] : 0.0f) + T::sum(acc[j][kw]);
    }
  }
}

template <class T, int KW, int NB>
void weight_grad_rest(const float* dy, const float* x, const ConvGeometry& g, int64_t oc0, int64_t rest,
                      bool accumulate, float* dw) {
  if constexpr (NB > 0) {
    if (rest == NB) return weight_grad_piece<T, KW, NB>(dy, x, g, oc0, accumulate, dw);
    weight_grad_rest<T, KW, NB - 1>(dy, x, g, oc0, rest, accumulate, dw);
  }
}

// NB·KW accumulators, KW input vectors and one of dy fit 16 registers. (With AVX-512's 32,
// twice the channels per block measured 1.2x slower on Zen 5: the accumulators were moved
// about between registers.)
template <class T, int KW>
void weight_grad_kw(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw) {
  constexpr int NB = std::max(1, std::min(8, (16 - 1 - KW) / KW));
  int64_t oc = 0;
  for (; oc + NB <= g.OC; oc += NB) weight_grad_piece<T, KW, NB>(dy, x, g, oc, accumulate, dw);
  if (oc < g.OC) weight_grad_rest<T, KW, NB - 1>(dy, x, g, oc, g.OC - oc, accumulate, dw);
}

template <class T>
void weight_grad_all(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw) {
  switch (g.KW) {  // 1 to 8
    case 1: weight_grad_kw<T, 1>(dy, x, g, accumulate, dw); break;
    case 2: weight_grad_kw<T, 2>(dy, x, g, accumulate, dw); break;
    case 3: weight_grad_kw<T, 3>(dy, x, g, accumulate, dw); break;
    case 4: weight_grad_kw<T, 4>(dy, x, g, accumulate, dw); break;
    case 5: weight_grad_kw<T, 5>(dy, x, g, accumulate, dw); break;
    case 6: weight_grad_kw<T, 6>(dy, x, g, accumulate, dw); break;
    case 7: weight_grad_kw<T, 7>(dy, x, g, accumulate, dw); break;
    default: weight_grad_kw<T, 8>(dy, x, g, accumulate, dw); break;
  }
}

#if defined(__AVX512F__)
// GCC 12's unmasked max and permutexvar warn of an undefined pass-through (bug 105593):
// the all-lanes masked forms are the same instructions.
inline __m512 max16(__m512 a, __m512 b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
inline __m512 permute16(__m512i idx, __m512 v) { return _mm512_maskz_permutexvar_ps(0xFFFF, idx, v); }

// One channel's 16 columns of two output rows (sums t and u, without bias) to its up to 8
// pooled outputs at y (mask out), with their argmax when not null; base: the plane index
// of t's first column.
// (Inlined: a call would spill the caller's other accumulators.)
[[gnu::always_inline]] inline void pool_pair(__m512 t, __m512 u, float bias, __mmask16 out, int32_t base, int32_t OW,
                                             float* y, int32_t* argmax) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i even = _mm512_add_epi32(lane, lane), odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 zero = _mm512_setzero_ps(), b = _mm512_set1_ps(bias);
  t = max16(_mm512_add_ps(t, b), zero);
  u = max16(_mm512_add_ps(u, b), zero);
  if (!argmax) {  // each window's maximum of its two columns' maxima, in lanes 0-7
    const __m512 m = max16(t, u);
    _mm512_mask_storeu_ps(y, out, max16(permute16(even, m), permute16(odd, m)));
    return;
  }
  // Lanes 0-7 of v[k]: the windows' k-th values (even and odd columns of t, then u).
  const __m512 v[4] = {permute16(even, t), permute16(odd, t), permute16(even, u), permute16(odd, u)};
  const __m512i offs[4] = {_mm512_setzero_si512(), _mm512_set1_epi32(1), _mm512_set1_epi32(OW),
                           _mm512_set1_epi32(OW + 1)};
  __m512 best = v[0];
  __m512i at = offs[0];
  for (int k = 1; k < 4; ++k) {
    const __mmask16 take = _mm512_cmp_ps_mask(v[k], best, _CMP_GT_OQ);
    best = _mm512_mask_blend_ps(take, best, v[k]);
    at = _mm512_mask_blend_epi32(take, at, offs[k]);
  }
  _mm512_mask_storeu_ps(y, out, best);
  _mm512_mask_storeu_epi32(argmax, out, _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(base), even), at));
}

// A window's four sums (in the window's order: top-left, top-right, bottom-left,
// bottom-right) after the bias and ReLU, max(v + b, 0), and the first maximum among them,
// as pool_pair picks it; `at` gets offs[k] of the maximum's k.
[[gnu::always_inline]] inline __m512 relu_max_of_four(const __m512 (&sums)[4], __m512 bias, const int32_t (&offs)[4],
                                                      __m512i& at) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 best = max16(_mm512_add_ps(sums[0], bias), zero);
  at = _mm512_set1_epi32(offs[0]);
  for (int k = 1; k < 4; ++k) {
    const __m512 v = max16(_mm512_add_ps(sums[k], bias), zero);
    const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
    best = _mm512_mask_blend_ps(take, best, v);
    at = _mm512_mask_blend_epi32(take, at, _mm512_set1_epi32(offs[k]));
  }
  return best;
}

// NB channels from oc0 on with the bias, ReLU and 2×2 max pooling applied in registers:
// each step sums two output rows (2·ph, 2·ph+1) of 16 columns from o on (top and bottom:
// 2·NB accumulators, each broadcast weight feeding both) in the (c, kh, kw) order of
// forward_channels, so the sums have its bits; then max(v + b, 0), bias_and_fused's
// select (NaN and -0 give +0), and the maximum of each window, 8 pooled outputs per step.
// With an argmax (training), the first maximum in the window's order (top-left,
// top-right, bottom-left, bottom-right), as maxpool2x2_planes picks it: ReLU outputs are
// never NaN, so the strict comparison alone decides. KWc: the kernel's width when known
// at compile time (3 and 5: unrolled; as a run-time loop GCC kept the input vectors on
// the stack), else 0.
template <int NB, int KWc>
void forward_pooled_channels(const float* x, const float* w, const float* b, const ConvGeometry& g, int64_t oc0,
                             float* y, int32_t* argmax) {
  const int64_t KW = KWc ? KWc : g.KW, OW = g.OW(), PH = g.OH() / 2, PW = OW / 2, KK = g.C * g.KH * KW;
  for (int64_t ph = 0; ph < PH; ++ph)
    for (int64_t p0 = 0; p0 < PW; p0 += 8) {
      const int64_t n = std::min<int64_t>(8, PW - p0), o = 2 * p0;
      const __mmask16 in = conv_detail::first_lanes(2 * n), out = conv_detail::first_lanes(n);
      __m512 top[NB], bottom[NB];
      for (int j = 0; j < NB; ++j) top[j] = bottom[j] = _mm512_setzero_ps();
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          const float* xr = x + (c * g.H + 2 * ph + kh) * g.W + o;
          const float* wk = w + oc0 * KK + (c * g.KH + kh) * KW;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const __m512 xt = _mm512_maskz_loadu_ps(in, xr + kw), xb = _mm512_maskz_loadu_ps(in, xr + g.W + kw);
            for (int j = 0; j < NB; ++j) {
              const __m512 wv = _mm512_set1_ps(wk[j * KK + kw]);
              top[j] = _mm512_fmadd_ps(wv, xt, top[j]);
              bottom[j] = _mm512_fmadd_ps(wv, xb, bottom[j]);
            }
          }
        }
      const int64_t at = oc0 * PH * PW + ph * PW + p0;
      const auto base = static_cast<int32_t>(2 * ph * OW + o);
      [&]<int... J>(std::integer_sequence<int, J...>) {  // constant indices keep the sums in registers
        (pool_pair(top[J], bottom[J], b ? b[oc0 + J] : 0.0f, out, base, static_cast<int32_t>(OW),
                   y + at + J * PH * PW, argmax ? argmax + at + J * PH * PW : nullptr),
         ...);
      }(std::make_integer_sequence<int, NB>{});
    }
}

// One input channel (a first layer), K×K kernels: the lanes are 16 windows of a pooled row
// instead of 16 columns of two output rows, over the input split into its even and odd
// columns (conv_detail::split_columns): each of a window's four positions has its own sums,
// so the pooling is three elementwise maxima, not pool_pair's permutes of 8 windows per
// step (lenet's first layer: 13 windows a row, 26 columns). Each of the (K+1)² input
// vectors of a pooled row is loaded once for every sum it takes part in. A sum's taps run
// in (kh, kw) order from zero, then max(v + b, 0) and the first maximum of the window's
// order, as forward_pooled_channels: the same bits.
template <int K, int NB>
void forward_pooled_split(const float* xs, const float* w, const float* b, const conv_detail::SplitPlan& p,
                          int64_t oc0, float* y, int32_t* argmax) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i twice = _mm512_add_epi32(lane, lane);
  const __m512 zero = _mm512_setzero_ps();
  const int32_t at[4] = {0, 1, static_cast<int32_t>(p.OW), static_cast<int32_t>(p.OW + 1)};
  const int64_t planes = p.PH * p.PW;
  for (int64_t ph = 0; ph < p.PH; ++ph)
    for (int64_t pw0 = 0; pw0 < p.PW; pw0 += 16) {
      __m512 acc[NB][4];
      for (int j = 0; j < NB; ++j)
        for (int s = 0; s < 4; ++s) acc[j][s] = zero;
      // The weights broadcast from memory at each use: hoisted out of the loop, GCC kept
      // all K²·NB broadcasts and spilled them to the stack.
      const float* wr = w + oc0 * K * K;
      asm("" : "+r"(wr));
#pragma GCC unroll 6
      for (int r = 0; r <= K; ++r) {
        const float* even = xs + 2 * (2 * ph + r) * p.half + pw0;
#pragma GCC unroll 6
        for (int t = 0; t <= K; ++t) {
          const __m512 xv = _mm512_loadu_ps(even + (t & 1) * p.half + t / 2);
          for (int sy = 0; sy < 2; ++sy)
            for (int sx = 0; sx < 2; ++sx) {
              const int ky = r - sy, kx = t - sx;
              if (ky < 0 || ky >= K || kx < 0 || kx >= K) continue;
              for (int j = 0; j < NB; ++j)
                acc[j][2 * sy + sx] =
                    _mm512_fmadd_ps(_mm512_set1_ps(wr[(j * K + ky) * K + kx]), xv, acc[j][2 * sy + sx]);
            }
        }
      }
      const __mmask16 out = conv_detail::first_lanes(p.PW - pw0);
      const __m512i corner = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * ph * p.OW + 2 * pw0)), twice);
      for (int j = 0; j < NB; ++j) {
        const int64_t i = (oc0 + j) * planes + ph * p.PW + pw0;
        __m512i where;
        _mm512_mask_storeu_ps(y + i, out, relu_max_of_four(acc[j], _mm512_set1_ps(b ? b[oc0 + j] : 0.0f), at, where));
        if (argmax) _mm512_mask_storeu_epi32(argmax + i, out, _mm512_add_epi32(corner, where));
      }
    }
}

// Whether forward_pooled_split takes the geometry (direct_conv_applies' besides).
bool pooled_split_forward_applies(const ConvGeometry& g) {
  return g.C == 1 && g.KH == g.KW && (g.KH == 3 || g.KH == 5) && g.OH() >= 2 && g.OW() >= 2;
}

// Channel blocks of 4 (16 sums in registers: blocks of 5 or 6 spilled them, measured 1.05-1.15x
// slower; 3 1.08x), the rest 1 to 3.
template <int K>
void forward_pooled_split_all(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y,
                              int32_t* argmax) {
  const conv_detail::SplitPlan p(g);
  thread_local std::vector<float> split;  // the sample's split input, its row scratch after
  const auto size = static_cast<size_t>(p.sample + 2 * p.half + 32);
  if (split.size() != size) split.assign(size, 0.0f);  // split_columns leaves what it does not write
  conv_detail::split_columns(x, g, p, split.data() + p.sample, split.data());
  int64_t oc = 0;
  for (; oc + 4 <= g.OC; oc += 4) forward_pooled_split<K, 4>(split.data(), w, b, p, oc, y, argmax);
  [&]<int... R>(std::integer_sequence<int, R...>) {
    ((g.OC - oc == R + 1 ? forward_pooled_split<K, R + 1>(split.data(), w, b, p, oc, y, argmax) : void()), ...);
  }(std::make_integer_sequence<int, 3>{});
}

// Output channels in the lanes (OC a multiple of 16, several input channels): where an
// output row is narrower than a vector (lenet's second layer: 11, of which the pooling
// keeps 10), forward_pooled_channels' lanes past it are products thrown away; here each
// vector holds 16 channels of one output position, so only the windows' positions are
// summed (100 of lenet's 121, against 176 lanes). NW windows of pooled row ph from pw0 on,
// output channels [oc0, oc0 + 16): 4·NW accumulators, one per window and position in it,
// each tap's 16 weights (packed: K×OC) loaded once for all of them, the input broadcast
// from memory. Same (c, kh, kw) order and fused epilogue as forward_pooled_channels: the
// same bits.
template <int NW, int KWc>
void pooled_windows_in_lanes(const float* x, const float* packed, const float* b, const ConvGeometry& g,
                             int64_t oc0, int64_t ph, int64_t pw0, float* y, int32_t* argmax) {
  const int64_t KW = KWc ? KWc : g.KW, OW = g.OW(), PW = OW / 2, PL = (g.OH() / 2) * PW;
  __m512 acc[NW][4];
  for (int j = 0; j < NW; ++j)
    for (int k = 0; k < 4; ++k) acc[j][k] = _mm512_setzero_ps();
  const float* wt = packed + oc0;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const float* xr = x + (c * g.H + 2 * ph + kh) * g.W + 2 * pw0;
      for (int64_t kw = 0; kw < KW; ++kw, wt += g.OC) {
        const __m512 wv = _mm512_loadu_ps(wt);
        for (int j = 0; j < NW; ++j)
          for (int k = 0; k < 4; ++k)
            acc[j][k] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xr[(k / 2) * g.W + 2 * j + k % 2 + kw]), acc[j][k]);
      }
    }
  const __m512 zero = _mm512_setzero_ps(), bias = b ? _mm512_loadu_ps(b + oc0) : zero;
  const __m512i to_plane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                              _mm512_set1_epi32(static_cast<int32_t>(PL)));
  const int32_t offs[4] = {0, 1, static_cast<int32_t>(OW), static_cast<int32_t>(OW + 1)};
  for (int j = 0; j < NW; ++j) {
    __m512i at;
    const __m512 best = relu_max_of_four(acc[j], bias, offs, at);
    const int64_t pw = pw0 + j, first = oc0 * PL + ph * PW + pw;
    _mm512_i32scatter_ps(y + first, to_plane, best, 4);
    if (argmax) {
      const auto corner = static_cast<int32_t>(2 * ph * OW + 2 * pw);
      _mm512_i32scatter_epi32(argmax + first, to_plane, _mm512_add_epi32(at, _mm512_set1_epi32(corner)), 4);
    }
  }
}

// Up to this many windows a step: 24 accumulators and the weights' vector.
constexpr int kLanesWindows = 6;

template <int KWc>
void pooled_in_lanes(const float* x, const float* packed, const float* b, const ConvGeometry& g, float* y,
                     int32_t* argmax) {
  const int64_t PH = g.OH() / 2, PW = g.OW() / 2;
  for (int64_t oc = 0; oc < g.OC; oc += 16)
    for (int64_t ph = 0; ph < PH; ++ph)
      for (int64_t pw = 0; pw < PW; pw += kLanesWindows) {
        const int64_t n = std::min<int64_t>(kLanesWindows, PW - pw);
        [&]<int... R>(std::integer_sequence<int, R...>) {
          ((n == R + 1 ? pooled_windows_in_lanes<R + 1, KWc>(x, packed, b, g, oc, ph, pw, y, argmax) : void()), ...);
        }(std::make_integer_sequence<int, kLanesWindows>{});
      }
}

bool pooled_lanes_apply(const ConvGeometry& g) {
  return direct_conv_applies(g) && g.C > 1 && g.OC % 16 == 0 && g.OC <= g.L() && g.OH() >= 2 && g.OW() >= 2;
}
#endif

}  // namespace

bool direct_conv_applies(const ConvGeometry& g) {
#if defined(__AVX512F__)
  const bool channels = g.C == 1 || g.C * g.KH * g.KW <= kDirectMaxDepth;
#else  // several channels measured only with 16 lanes (lenet's rows of 11 in one vector)
  const bool channels = g.C == 1;
#endif
  return channels && g.stride == 1 && g.pad == 0 && g.OW() >= 8 && g.KW >= 1 && g.KW <= 8;
}

bool direct_conv_forward(const float* x, const float* w, const ConvGeometry& g, float* out) {
  if (!direct_conv_applies(g)) return false;
#if defined(__AVX512F__)
  forward_all<Lanes16>(x, w, g, out);
#else
  forward_all<Lanes8>(x, w, g, out);
#endif
  return true;
}

bool direct_conv_pack_weights(const float* w, const ConvGeometry& g, float* packed) {
#if defined(__AVX512F__)
  if (!pooled_lanes_apply(g)) return false;
  const int64_t K = g.K();
  for (int64_t oc = 0; oc < g.OC; ++oc)
    for (int64_t k = 0; k < K; ++k) packed[k * g.OC + oc] = w[oc * K + k];
  return true;
#else
  (void)w, (void)g, (void)packed;
  return false;
#endif
}

bool direct_conv_pooled_forward(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y,
                                int32_t* argmax, const float* packed) {
#if defined(__AVX512F__)
  if (!direct_conv_applies(g) || g.OH() < 2) return false;
  if (packed && pooled_lanes_apply(g)) {
    if (g.KW == 3)
      pooled_in_lanes<3>(x, packed, b, g, y, argmax);
    else if (g.KW == 5)
      pooled_in_lanes<5>(x, packed, b, g, y, argmax);
    else
      pooled_in_lanes<0>(x, packed, b, g, y, argmax);
    return true;
  }
  if (pooled_split_forward_applies(g)) {
    if (g.KW == 3)
      forward_pooled_split_all<3>(x, w, b, g, y, argmax);
    else
      forward_pooled_split_all<5>(x, w, b, g, y, argmax);
    return true;
  }
  for_channel_blocks(
      g, [&]<int NB, int KWc>(int64_t oc) { forward_pooled_channels<NB, KWc>(x, w, b, g, oc, y, argmax); });
  return true;
#else
  (void)x, (void)w, (void)b, (void)g, (void)y, (void)argmax, (void)packed;
  return false;
#endif
}

bool direct_conv_weight_grad(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw) {
  if (g.C != 1 || !direct_conv_applies(g)) return false;
#if defined(__AVX512F__)
  if (g.OW() >= 16) {
    weight_grad_all<Lanes16>(dy, x, g, accumulate, dw);
    return true;
  }
#endif
  weight_grad_all<Lanes8>(dy, x, g, accumulate, dw);
  return true;
}

#else  // without AVX2, columns and gemm do every convolution

bool direct_conv_applies(const ConvGeometry&) { return false; }
bool direct_conv_forward(const float*, const float*, const ConvGeometry&, float*) { return false; }
bool direct_conv_pack_weights(const float*, const ConvGeometry&, float*) { return false; }
bool direct_conv_pooled_forward(const float*, const float*, const float*, const ConvGeometry&, float*, int32_t*,
                                const float*) {
  return false;
}
bool direct_conv_weight_grad(const float*, const float*, const ConvGeometry&, bool, float*) { return false; }

#endif

}  // namespace mnistcnn::kernels
