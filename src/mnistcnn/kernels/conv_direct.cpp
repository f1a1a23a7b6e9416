#include "mnistcnn/kernels/conv_direct.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <utility>

#include "mnistcnn/kernels/conv_detail.h"

namespace mnistcnn::kernels {

#if defined(__AVX2__)
namespace {

using conv_detail::Lanes8;
#if defined(__AVX512F__)
using conv_detail::Lanes16;
#endif

// NB output channels from oc0 on: NB accumulators of one vector of outputs, each input
// vector loaded once for all of them. A row's last vector ends at the row's end and
// overlaps the one before it when OW is not a multiple of the width; the overlap is
// written twice with the same values. (Sharing each broadcast weight among 2 or 3 output
// vectors, with fewer channels per block, measured slower on Zen 3.)
template <class T, int NB>
void forward_channels(const float* x, const float* w, const ConvGeometry& g, int64_t oc0, float* out) {
  const int64_t OH = g.OH(), OW = g.OW(), L = OH * OW, KK = g.KH * g.KW;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ow += T::width) {
      const int64_t o = std::min(ow, OW - T::width);
      typename T::V acc[NB];
      for (int j = 0; j < NB; ++j) acc[j] = T::zero();
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        const float* xr = x + (oh + kh) * g.W + o;
        const float* wk = w + oc0 * KK + kh * g.KW;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const typename T::V xv = T::load(xr + kw);
          for (int j = 0; j < NB; ++j) acc[j] = T::fmadd(T::broadcast(wk + j * KK + kw), xv, acc[j]);
        }
      }
      for (int j = 0; j < NB; ++j) T::store(out + (oc0 + j) * L + oh * OW + o, acc[j]);
    }
}

template <class T>
void forward_all(const float* x, const float* w, const ConvGeometry& g, float* out) {
  int64_t oc = 0;
  for (; oc + 8 <= g.OC; oc += 8) forward_channels<T, 8>(x, w, g, oc, out);
  [&]<int... R>(std::integer_sequence<int, R...>) {  // the rest, 1 to 7 channels
    ((g.OC - oc == R + 1 ? forward_channels<T, R + 1>(x, w, g, oc, out) : void()), ...);
  }(std::make_integer_sequence<int, 7>{});
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

}  // namespace

bool direct_conv_applies(const ConvGeometry& g) {
  return g.C == 1 && g.stride == 1 && g.pad == 0 && g.OW() >= 8 && g.KW >= 1 && g.KW <= 8;
}

bool direct_conv_forward(const float* x, const float* w, const ConvGeometry& g, float* out) {
  if (!direct_conv_applies(g)) return false;
#if defined(__AVX512F__)
  if (g.OW() >= 16) {
    forward_all<Lanes16>(x, w, g, out);
    return true;
  }
#endif
  forward_all<Lanes8>(x, w, g, out);
  return true;
}

bool direct_conv_weight_grad(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw) {
  if (!direct_conv_applies(g)) return false;
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
bool direct_conv_weight_grad(const float*, const float*, const ConvGeometry&, bool, float*) { return false; }

#endif

}  // namespace mnistcnn::kernels
