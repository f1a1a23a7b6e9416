#include "mnistcnn/kernels/conv_pooled.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "mnistcnn/kernels/conv_detail.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::kernels {

namespace {

using conv_detail::kChunk;

int64_t chunks(int64_t N) { return (N + kChunk - 1) / kChunk; }

// Sizes shared by the pieces below. Input and input gradient are held channels-last with
// the padding around them: (H+2P)×(W+2P)×C, so a patch row is R = KW·C contiguous floats
// and consecutive patch rows are `row` floats apart.
struct Plan {
  int64_t C, S, Wp, plane, R, row, OW, PH, PW, windows;
  explicit Plan(const ConvGeometry& g)
      : C(g.C),
        S(g.stride),
        Wp(g.W + 2 * g.pad),
        plane((g.H + 2 * g.pad) * Wp * g.C),
        R(g.KW * g.C),
        row(Wp * g.C),
        OW(g.OW()),
        PH(g.OH() / 2),
        PW(g.OW() / 2),
        windows(PH * PW) {}
  // Where the patch of output position (oh, ow) starts in the channels-last input.
  int64_t patch(int64_t oh, int64_t ow) const { return (oh * S * Wp + ow * S) * C; }
};

// Floats per thread: channels-last input and input gradient, and each window's gradient.
int64_t per_thread_size(const ConvGeometry& g) {
  const Plan p(g);
  return 2 * p.plane + g.OC * p.windows;
}

#if defined(__AVX512F__)

using conv_detail::first_lanes;
using conv_detail::SplitPlan;
using conv_detail::split_columns;

// The windows with a gradient, found once per sample. Per output channel, in window
// order: where its maximum's patch starts and its gradient (for the weight and bias
// gradients). Per window and position in it (0-3), the channels whose maximum is there,
// in channel order (for the input gradient), and every channel's gradient per window.
struct Active {
  std::vector<int32_t> patch;     // OC × windows, the first count[oc] used
  std::vector<float> grad;        // OC × windows, beside patch
  std::vector<int32_t> count;     // OC
  std::vector<int32_t> at;        // (windows·4 + 1) × OC, the first at_count[w·4 + s] used; the last: no gradient
  std::vector<int32_t> at_count;  // windows·4 + 1
  // Per window: the argmax index of its top-left position, and where that position's patch starts.
  std::vector<int32_t> corner, corner_patch;
};

// The windows' corners, once per call (find_active reads them for every sample).
void find_corners(const Plan& p, Active& a) {
  a.corner.resize(static_cast<size_t>(p.windows));
  a.corner_patch.resize(static_cast<size_t>(p.windows));
  for (int64_t w = 0; w < p.windows; ++w) {
    const int64_t oh = 2 * (w / p.PW), ow = 2 * (w % p.PW);
    a.corner[static_cast<size_t>(w)] = static_cast<int32_t>(oh * p.OW + ow);
    a.corner_patch[static_cast<size_t>(w)] = static_cast<int32_t>(p.patch(oh, ow));
  }
}

// Per window, in vectors of 16: which have a gradient (the ReLU passes a positive maximum,
// NaN does not, as in relu_backward; a zero gradient adds nothing), and where the maximum
// is from its index, compressed into the channel's list without a branch per window (the
// ReLU's verdict is a coin toss to the branch predictor). With `position`, also each
// channel's and window's maximum's position in the window (0-3: sy·2 + sx), for
// input_grad_windows.
void find_active(const float* dy, const float* y, const int32_t* argmax, const ConvGeometry& g, const Plan& p,
                 bool by_window, float* window_grad, Active& a, int32_t* position = nullptr) {
  const int64_t OC = g.OC, P = p.windows;
  a.patch.resize(static_cast<size_t>(OC * P + 16));
  a.grad.resize(a.patch.size());
  a.count.assign(static_cast<size_t>(OC), 0);
  const int64_t slots = P * 4;
  if (by_window) {
    a.at.resize(static_cast<size_t>((slots + 1) * OC));
    a.at_count.assign(static_cast<size_t>(slots + 1), 0);
  }
  const __m512i ow_v = _mm512_set1_epi32(static_cast<int32_t>(p.OW)), two = _mm512_set1_epi32(2);
  const __m512i down = _mm512_set1_epi32(static_cast<int32_t>(p.S * p.row));
  const __m512i right = _mm512_set1_epi32(static_cast<int32_t>(p.S * p.C));
  const __m512i lane4 = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(4));
  alignas(64) int32_t slot_of[16];
  for (int64_t oc = 0; oc < OC; ++oc) {
    int32_t n = 0;
    for (int64_t w0 = 0; w0 < P; w0 += 16) {
      const int64_t i = oc * P + w0;
      const __mmask16 m = first_lanes(P - w0);
      const __m512 d = _mm512_maskz_loadu_ps(m, dy + i);
      const __mmask16 has = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + i), _mm512_setzero_ps(),
                                                    _CMP_GT_OQ) &
                            _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ);
      _mm512_mask_storeu_ps(window_grad + i, m, _mm512_maskz_mov_ps(has, d));
      // The maximum's offset from the window's corner: 0, 1, OW or OW + 1.
      const __m512i delta = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, argmax + i),
                                             _mm512_maskz_loadu_epi32(m, a.corner.data() + w0));
      const __mmask16 lower = _mm512_cmpge_epi32_mask(delta, ow_v);
      const __m512i sx = _mm512_mask_sub_epi32(delta, lower, delta, ow_v);  // 0 or 1
      if (position) _mm512_mask_storeu_epi32(position + i, m, _mm512_mask_add_epi32(sx, lower, sx, two));
      __m512i patch = _mm512_maskz_loadu_epi32(m, a.corner_patch.data() + w0);
      patch = _mm512_mask_add_epi32(patch, lower, patch, down);
      patch = _mm512_add_epi32(patch, _mm512_mullo_epi32(sx, right));
      _mm512_mask_compressstoreu_epi32(a.patch.data() + oc * P + n, has, patch);
      _mm512_mask_compressstoreu_ps(a.grad.data() + oc * P + n, has, d);
      n += static_cast<int32_t>(__builtin_popcount(has));
      if (by_window) {
        // slot = window·4 + position, or the last slot (never read) for no gradient: 16
        // iterations always (a loop over the windows with a gradient alone mispredicted its
        // end and measured 1.1x slower on lenet's second layer)
        __m512i slot = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(w0 * 4)), lane4), sx);
        slot = _mm512_mask_add_epi32(slot, lower, slot, _mm512_set1_epi32(2));
        slot = _mm512_mask_mov_epi32(_mm512_set1_epi32(static_cast<int32_t>(slots)), has, slot);
        _mm512_store_si512(slot_of, slot);
        for (int64_t l = 0; l < std::min<int64_t>(16, P - w0); ++l) {
          const int32_t s = slot_of[l], k = a.at_count[static_cast<size_t>(s)];
          a.at[static_cast<size_t>(s * OC + k)] = static_cast<int32_t>(oc);
          a.at_count[static_cast<size_t>(s)] = k + (s != slots);  // the last slot keeps one
        }
      }
    }
    a.count[static_cast<size_t>(oc)] = n;
  }
}

// Vector v of a patch row: full, or the row's last and masked.
template <int NV>
inline __m512 load_part(const float* p, int v, __mmask16 last) {
  return v == NV - 1 ? _mm512_maskz_loadu_ps(last, p + 16 * v) : _mm512_loadu_ps(p + 16 * v);
}
template <int NV>
inline void store_part(float* p, int v, __mmask16 last, __m512 x) {
  if (v == NV - 1)
    _mm512_mask_storeu_ps(p + 16 * v, last, x);
  else
    _mm512_storeu_ps(p + 16 * v, x);
}

// One sample's weight and bias gradients into the chunk partials pdw (OC × KH × R, the
// weights channels-last) and pdb: each channel's KH×R sums in registers over its windows.
template <int KH, int NV>
void weight_grad(const Active& a, const float* xp, const ConvGeometry& g, const Plan& p, bool first, float* pdw,
                 float* pdb) {
  const __mmask16 last = first_lanes(p.R - 16 * (NV - 1));
  for (int64_t oc = 0; oc < g.OC; ++oc) {
    float* out = pdw + oc * KH * p.R;
    __m512 acc[KH][NV];
    for (int ky = 0; ky < KH; ++ky)
      for (int v = 0; v < NV; ++v)
        acc[ky][v] = first ? _mm512_setzero_ps() : load_part<NV>(out + ky * p.R, v, last);
    float bias = first ? 0.0f : pdb[oc];
    const int32_t* patch = a.patch.data() + oc * p.windows;
    const float* grad = a.grad.data() + oc * p.windows;
    for (int32_t k = 0; k < a.count[static_cast<size_t>(oc)]; ++k) {
      const float* base = xp + patch[k];
      const __m512 d = _mm512_set1_ps(grad[k]);
      bias += grad[k];
      for (int ky = 0; ky < KH; ++ky)
        for (int v = 0; v < NV; ++v)
          acc[ky][v] = _mm512_fmadd_ps(d, load_part<NV>(base + ky * p.row, v, last), acc[ky][v]);
    }
    for (int ky = 0; ky < KH; ++ky)
      for (int v = 0; v < NV; ++v) store_part<NV>(out + ky * p.R, v, last, acc[ky][v]);
    pdb[oc] = bias;
  }
}

// Bias gradient alone (frozen weights).
void bias_grad(const Active& a, const ConvGeometry& g, const Plan& p, bool first, float* pdb) {
  for (int64_t oc = 0; oc < g.OC; ++oc) {
    float bias = first ? 0.0f : pdb[oc];
    const float* grad = a.grad.data() + oc * p.windows;
    for (int32_t k = 0; k < a.count[static_cast<size_t>(oc)]; ++k) bias += grad[k];
    pdb[oc] = bias;
  }
}

// One sample's input gradient, channels-last, into dxp (zeroed here): per window and
// position in it, the sum over the channels whose maximum is there of gradient × weights
// (wp: OC × KH × R, channels-last) in registers, added onto that position's patch once.
template <int KH, int NV>
void input_grad(const Active& a, const float* window_grad, const float* wp, const ConvGeometry& g, const Plan& p,
                float* dxp) {
  std::memset(dxp, 0, sizeof(float) * static_cast<size_t>(p.plane));
  const __mmask16 last = first_lanes(p.R - 16 * (NV - 1));
  for (int64_t w = 0; w < p.windows; ++w) {
    const int64_t oh0 = 2 * (w / p.PW), ow0 = 2 * (w % p.PW);
    for (int64_t s = 0; s < 4; ++s) {
      const int64_t slot = w * 4 + s;
      const int32_t n = a.at_count[static_cast<size_t>(slot)];
      if (n == 0) continue;
      const int32_t* channels = a.at.data() + slot * g.OC;
      __m512 acc[KH][NV];
      for (int ky = 0; ky < KH; ++ky)
        for (int v = 0; v < NV; ++v) acc[ky][v] = _mm512_setzero_ps();
      for (int32_t k = 0; k < n; ++k) {
        const int64_t oc = channels[k];
        const __m512 d = _mm512_set1_ps(window_grad[oc * p.windows + w]);
        const float* wo = wp + oc * KH * p.R;
        for (int ky = 0; ky < KH; ++ky)
          for (int v = 0; v < NV; ++v)
            acc[ky][v] = _mm512_fmadd_ps(d, load_part<NV>(wo + ky * p.R, v, last), acc[ky][v]);
      }
      float* base = dxp + p.patch(oh0 + s / 2, ow0 + s % 2);
      for (int ky = 0; ky < KH; ++ky)
        for (int v = 0; v < NV; ++v) {
          float* at = base + ky * p.row;
          store_part<NV>(at, v, last, _mm512_add_ps(load_part<NV>(at, v, last), acc[ky][v]));
        }
    }
  }
}

// ---- The input gradient per window, dense over the channels (lenet's second layer) ----
// Where patch rows are a vector or two, input_grad's lists leave it short of work: a
// position's few channels are a chain of dependent additions (6 sums, 4 cycles each),
// each list's length is a coin toss to the branch predictor, and the overlapping patches'
// additions onto the input gradient read what was just stored at another offset. Here a
// window's four positions are summed over every channel at once, those the ReLU or the
// pooling dropped with a zero gradient, and added onto the input gradient once.

// One sample's input gradient, channels-last, into dxp (zeroed here). A window's four
// positions' patches lie in a region of RH = S + KH rows of (S + KW)·C floats (RV vectors):
// per window, the sum over every channel of gradient × that channel's weights placed at
// its maximum's position in the region (ws: OC × 4 positions × RH × RV vectors, zero
// around the weights), in registers, then added onto the region once.
template <int RH, int RV>
void input_grad_windows(const float* window_grad, const int32_t* position, const float* ws, const ConvGeometry& g,
                        const Plan& p, float* dxp) {
  std::memset(dxp, 0, sizeof(float) * static_cast<size_t>(p.plane));
  const int64_t region = (g.stride + g.KW) * g.C;
  const __mmask16 last = first_lanes(region - 16 * (RV - 1));
  for (int64_t w = 0; w < p.windows; ++w) {
    __m512 acc[RH][RV];
    for (int r = 0; r < RH; ++r)
      for (int v = 0; v < RV; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t oc = 0; oc < g.OC; ++oc) {
      const int64_t i = oc * p.windows + w;
      const __m512 d = _mm512_set1_ps(window_grad[i]);
      const float* q = ws + ((oc * 4 + position[i]) * RH * RV) * 16;
      for (int r = 0; r < RH; ++r)
        for (int v = 0; v < RV; ++v) acc[r][v] = _mm512_fmadd_ps(d, _mm512_loadu_ps(q + (r * RV + v) * 16), acc[r][v]);
    }
    float* base = dxp + p.patch(2 * (w / p.PW), 2 * (w % p.PW));
    for (int r = 0; r < RH; ++r)
      for (int v = 0; v < RV; ++v) {
        float* at = base + r * p.row;
        store_part<RV>(at, v, last, _mm512_add_ps(load_part<RV>(at, v, last), acc[r][v]));
      }
  }
}

using WindowInput = void (*)(const float*, const int32_t*, const float*, const ConvGeometry&, const Plan&, float*);

template <int RH, int MaxRV>
WindowInput window_input_up_to(int64_t rv) {
  WindowInput k = nullptr;
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((rv == I + 1 ? void(k = &input_grad_windows<RH, I + 1>) : void()), ...);
  }(std::make_integer_sequence<int, MaxRV>{});
  return k;
}

// input_grad_windows for a geometry whose windows' regions (RH rows of RV vectors) fit 16
// registers, or null (the lists: keras-mnist's second layer, 4 rows of 8 vectors).
struct WindowKernel {
  WindowInput input = nullptr;
  int64_t RH = 0, RV = 0;
};
WindowKernel window_kernel(const ConvGeometry& g) {
  WindowKernel k;
  k.RH = g.stride + g.KH;
  k.RV = ((g.stride + g.KW) * g.C + 15) / 16;
  if (k.RH == 4) k.input = window_input_up_to<4, 4>(k.RV);
  if (k.RH == 5) k.input = window_input_up_to<5, 3>(k.RV);
  if (k.RH == 6) k.input = window_input_up_to<6, 2>(k.RV);
  if (k.RH == 7) k.input = window_input_up_to<7, 2>(k.RV);
  return k;
}

// Floats of the placed weights input_grad_windows reads (OC × 4 × RH × RV vectors).
int64_t placed_weights_size(const ConvGeometry& g) {
  const WindowKernel k = window_kernel(g);
  return k.input ? g.OC * 4 * k.RH * k.RV * 16 : 0;
}

// The kernels for this geometry's KH and vectors per patch row, or null.
struct Kernels {
  void (*weight)(const Active&, const float*, const ConvGeometry&, const Plan&, bool, float*, float*) = nullptr;
  void (*input)(const Active&, const float*, const float*, const ConvGeometry&, const Plan&, float*) = nullptr;
};

template <int KH, int NV>
Kernels kernels_for() {
  return {&weight_grad<KH, NV>, &input_grad<KH, NV>};
}

// KH kernel rows of NV vectors, NV from 1 to MaxNV chosen at run time (KH·MaxNV
// accumulators, with the loaded vector and the broadcast gradient, fit 32 registers).
template <int KH, int MaxNV>
Kernels kernels_up_to(int64_t nv) {
  Kernels k;
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((nv == I + 1 ? void(k = kernels_for<KH, I + 1>()) : void()), ...);
  }(std::make_integer_sequence<int, MaxNV>{});
  return k;
}

Kernels select(const ConvGeometry& g) {
  const int64_t nv = (g.KW * g.C + 15) / 16;
  if (g.KH == 3) return kernels_up_to<3, 6>(nv);
  if (g.KH == 5) return kernels_up_to<5, 4>(nv);
  return {};
}

// x (C×H×W) -> xp, channels-last inside its zero border (which the caller zeroed): each
// row of W·C floats gathered 16 at a time (from[j]: where float j of a row comes from,
// relative to the row's first input; strided scalar stores took most of the time here).
void to_channels_last(const float* x, const ConvGeometry& g, const Plan& p, const int32_t* from, float* xp) {
  const int64_t n = g.W * g.C;
  for (int64_t ih = 0; ih < g.H; ++ih) {
    const float* src = x + ih * g.W;
    float* dst = xp + ((ih + g.pad) * p.Wp + g.pad) * g.C;
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = first_lanes(n - j);
      const __m512i at = _mm512_maskz_loadu_epi32(m, from + j);
      _mm512_mask_storeu_ps(dst + j, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, at, src, 4));
    }
  }
}

// The inverse, dropping the border: dx (C×H×W) from dxp, gathered C apart: each plane
// whole in vectors of 16 without a border, else row by row.
void from_channels_last(const float* dxp, const ConvGeometry& g, const Plan& p, float* dx) {
  const __m512i step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(static_cast<int32_t>(g.C)));
  const int64_t rows = g.pad == 0 ? 1 : g.H, row = g.pad == 0 ? g.H * g.W : g.W;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < rows; ++ih) {
      const float* src = dxp + ((ih + g.pad) * p.Wp + g.pad) * g.C + c;
      float* dst = dx + c * g.H * g.W + ih * row;
      for (int64_t i = 0; i < row; i += 16) {
        const __mmask16 m = first_lanes(row - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, step, src + i * g.C, 4));
      }
    }
}

// ---- One input channel (a first layer: lenet's, keras-mnist's, fast99's) ----
// Its patch rows are KW floats, under a vector, so the channels-last kernels above do not
// take it. Here the lanes are 16 windows of a pooled row: the maximum of window (ph, pw)
// at (2ph + sy, 2pw + sx) reads input column 2pw + sx + kx, so with the input split into
// its even and odd columns once per sample, each position in a window is a load at a fixed
// offset, and a channel's gradient masked to the windows whose maximum is there multiplies
// it. The KH·KW sums of a few channels stay in registers over a chunk's samples.

// Weight gradients of channels oc0 .. oc0+G-1 (K×K kernels) over samples [n0, n1), whose
// split inputs are at xs, into pdw (OC × K × K), and their bias gradients into pdb (OC),
// both overwritten. Half: the split rows' length when it is known at compile time (one
// block of windows: a load's offset is a constant).
template <int K, int G, int Half>
void split_weight_grad(const float* xs, const float* dy, const float* y, const int32_t* argmax, int64_t n0,
                       int64_t n1, int64_t oc0, const ConvGeometry& g, const SplitPlan& p, float* pdw, float* pdb) {
  const int64_t planes = p.PH * p.PW, half = Half > 0 ? Half : p.half;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i twice = _mm512_add_epi32(lane, lane);
  const int32_t at[4] = {0, 1, static_cast<int32_t>(p.OW), static_cast<int32_t>(p.OW + 1)};
  __m512 acc[G][K][K], bias[G];
  for (int j = 0; j < G; ++j) {
    bias[j] = _mm512_setzero_ps();
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) acc[j][ky][kx] = _mm512_setzero_ps();
  }
  for (int64_t n = n0; n < n1; ++n) {
    const float* xn = xs + (n - n0) * p.sample;
    const int64_t plane0 = (n * g.OC + oc0) * planes;
    for (int64_t ph = 0; ph < p.PH; ++ph)
      for (int64_t pw0 = 0; pw0 < (Half > 0 ? 1 : p.PW); pw0 += 16) {  // Half: one block
        const __mmask16 m = first_lanes(p.PW - pw0);
        // Each window's top-left position in the unpooled plane.
        const __m512i corner =
            _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * ph * p.OW + 2 * pw0)), twice);
        __m512 gs[4][G];  // the gradient where the ReLU passed the maximum, per position
        for (int j = 0; j < G; ++j) {
          const int64_t i = plane0 + j * planes + ph * p.PW + pw0;
          const __m512 d = _mm512_maskz_loadu_ps(m, dy + i);
          const __mmask16 pass = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + i), _mm512_setzero_ps(),
                                                         _CMP_GT_OQ);
          bias[j] = _mm512_mask_add_ps(bias[j], pass, bias[j], d);
          const __m512i delta = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, argmax + i), corner);
          for (int s = 0; s < 4; ++s)
            gs[s][j] = _mm512_maskz_mov_ps(pass & _mm512_cmpeq_epi32_mask(delta, _mm512_set1_epi32(at[s])), d);
        }
        // Each of the (K+1)² input vectors once, into every sum it takes part in.
#pragma GCC unroll 6
        for (int r = 0; r <= K; ++r) {
          const float* even = xn + 2 * (2 * ph + r) * half + pw0;
#pragma GCC unroll 6
          for (int t = 0; t <= K; ++t) {
            const __m512 xv = _mm512_loadu_ps(even + (t & 1) * half + t / 2);
            for (int sy = 0; sy < 2; ++sy)
              for (int sx = 0; sx < 2; ++sx) {
                const int ky = r - sy, kx = t - sx;
                if (ky < 0 || ky >= K || kx < 0 || kx >= K) continue;
                for (int j = 0; j < G; ++j) acc[j][ky][kx] = _mm512_fmadd_ps(gs[2 * sy + sx][j], xv, acc[j][ky][kx]);
              }
          }
        }
      }
  }
  for (int j = 0; j < G; ++j) {
    pdb[oc0 + j] = conv_detail::Lanes16::sum(bias[j]);
    for (int ky = 0; ky < K; ++ky)
      for (int kx = 0; kx < K; ++kx) pdw[((oc0 + j) * K + ky) * K + kx] = conv_detail::Lanes16::sum(acc[j][ky][kx]);
  }
}

// The bias gradients alone (frozen weights) over samples [n0, n1) into pdb (OC,
// overwritten), summed as split_weight_grad sums them: the same bits.
void split_bias_grad(const float* dy, const float* y, int64_t n0, int64_t n1, const ConvGeometry& g,
                     const SplitPlan& p, float* pdb) {
  const int64_t planes = p.PH * p.PW;
  for (int64_t oc = 0; oc < g.OC; ++oc) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t ph = 0; ph < p.PH; ++ph)
        for (int64_t pw0 = 0; pw0 < p.PW; pw0 += 16) {
          const int64_t i = (n * g.OC + oc) * planes + ph * p.PW + pw0;
          const __mmask16 m = first_lanes(p.PW - pw0);
          const __mmask16 pass =
              _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + i), _mm512_setzero_ps(), _CMP_GT_OQ);
          acc = _mm512_mask_add_ps(acc, pass, acc, _mm512_maskz_loadu_ps(m, dy + i));
        }
    pdb[oc] = conv_detail::Lanes16::sum(acc);
  }
}

using SplitKernel = void (*)(const float*, const float*, const float*, const int32_t*, int64_t, int64_t, int64_t,
                             const ConvGeometry&, const SplitPlan&, float*, float*);

// Channels per block: G·K·K accumulators beside G·4 masked gradients and the input vector
// (3x3: 2 channels, 18 sums; 3 spilled them, 1.2x slower; 5x5: one).
template <int K>
constexpr int kSplitChannels = K == 3 ? 2 : 1;

template <int K, int G>
SplitKernel split_kernel(int64_t count, const SplitPlan& p) {
  if constexpr (G > 1)
    if (count < G) return split_kernel<K, G - 1>(count, p);
  return p.half == 32 ? &split_weight_grad<K, G, 32> : &split_weight_grad<K, G, 0>;
}

#endif  // __AVX512F__

}  // namespace

bool pooled_split_backward_applies(const ConvGeometry& g) {
#if defined(__AVX512F__)
  return g.C == 1 && g.stride == 1 && g.KH == g.KW && (g.KH == 3 || g.KH == 5) && g.OH() >= 2 && g.OW() >= 2 &&
         g.H * g.W < (int64_t{1} << 30);
#else
  (void)g;
  return false;
#endif
}

int64_t pooled_split_backward_scratch(const ConvGeometry& g, int64_t N, int threads) {
#if defined(__AVX512F__)
  const SplitPlan p(g);
  const int64_t weights = g.OC * g.KH * g.KW;
  return chunks(N) * (weights + g.OC) + static_cast<int64_t>(threads) * (kChunk * p.sample + 2 * p.half + 32);
#else
  (void)g, (void)N, (void)threads;
  return 0;
#endif
}

void pooled_split_backward(const float* dy, const float* x, const ConvGeometry& g, int64_t N, float* scratch,
                           float* dw, float* db, const float* y, const int32_t* argmax) {
#if defined(__AVX512F__)
  const SplitPlan p(g);
  const int64_t K = g.KH, weights = g.OC * K * K, n_chunks = chunks(N), in_size = g.H * g.W;
  const int64_t G = K == 3 ? kSplitChannels<3> : kSplitChannels<5>;
  float* part_dw = scratch;                       // n_chunks × OC × K × K
  float* part_db = part_dw + n_chunks * weights;  // n_chunks × OC
  float* per_thread = part_db + n_chunks * g.OC;
  parallel_region(true, [&] {
    float* xs = per_thread + static_cast<int64_t>(omp_get_thread_num()) * (kChunk * p.sample + 2 * p.half + 32);
    float* row = xs + kChunk * p.sample;
    std::memset(xs, 0, sizeof(float) * static_cast<size_t>(kChunk * p.sample + 2 * p.half + 32));
#pragma omp for schedule(static)
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t n0 = c * kChunk, n1 = std::min(N, n0 + kChunk);
      if (dw) {
        for (int64_t n = n0; n < n1; ++n) split_columns(x + n * in_size, g, p, row, xs + (n - n0) * p.sample);
        for (int64_t oc = 0; oc < g.OC; oc += G) {
          const SplitKernel k = K == 3 ? split_kernel<3, kSplitChannels<3>>(g.OC - oc, p)
                                       : split_kernel<5, kSplitChannels<5>>(g.OC - oc, p);
          k(xs, dy, y, argmax, n0, n1, oc, g, p, part_dw + c * weights, part_db + c * g.OC);
        }
      } else if (db) {
        split_bias_grad(dy, y, n0, n1, g, p, part_db + c * g.OC);
      }
    }
    if (dw) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < weights; ++i) {
        float s = 0.0f;
        for (int64_t c = 0; c < n_chunks; ++c) s += part_dw[c * weights + i];
        dw[i] += s;
      }
    }
    if (db) {
#pragma omp single
      conv_detail::add_chunk_partials(part_db, n_chunks, g.OC, db);
    }
  });
#else
  (void)dy, (void)x, (void)g, (void)N, (void)scratch, (void)dw, (void)db, (void)y, (void)argmax;
#endif
}

bool pooled_backward_applies(const ConvGeometry& g) {
#if defined(__AVX512F__)
  const Plan p(g);
  // Patch rows under one vector (a first layer's 3 or 5 floats) measured slower than the
  // unpooled gradient and the direct weight gradient (docs/BENCHMARKS.md).
  return p.R >= 16 && p.windows > 0 && p.plane < (int64_t{1} << 30) && select(g).weight != nullptr;
#else
  (void)g;
  return false;
#endif
}

int64_t pooled_backward_scratch(const ConvGeometry& g, int64_t N, int threads) {
  const int64_t weights = g.OC * g.KH * g.KW * g.C;
#if defined(__AVX512F__)
  const int64_t placed = placed_weights_size(g);
#else
  const int64_t placed = 0;
#endif
  return chunks(N) * (weights + g.OC) + weights + placed + static_cast<int64_t>(threads) * per_thread_size(g);
}

void pooled_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                     float* scratch, float* dw, float* db, float* dx, const float* y, const int32_t* argmax) {
#if defined(__AVX512F__)
  const Plan p(g);
  const Kernels k = select(g);
  const WindowKernel wk = window_kernel(g);
  const int64_t OC = g.OC, KK = g.KH * g.KW, weights = OC * g.KH * p.R, n_chunks = chunks(N);
  const int64_t in_size = g.C * g.H * g.W, out_size = OC * p.windows;
  float* part_dw = scratch;                           // n_chunks × OC × KH × R
  float* part_db = part_dw + n_chunks * weights;      // n_chunks × OC
  float* wp = part_db + n_chunks * OC;                // OC × KH × R, when dx
  float* placed = wp + weights;                       // input_grad_windows' weights, when dx
  float* per_thread = placed + placed_weights_size(g);
  const bool input_windows = dx && wk.input;
  parallel_region(true, [&] {
    if (dx) {
#pragma omp for schedule(static)
      for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t c = 0; c < g.C; ++c)
          for (int64_t ky = 0; ky < g.KH; ++ky)
            for (int64_t kx = 0; kx < g.KW; ++kx)
              wp[(oc * g.KH + ky) * p.R + kx * g.C + c] = w[oc * g.C * KK + c * KK + ky * g.KW + kx];
    }
    if (input_windows) {  // each channel's weights at each of the four positions of a window's region
      const int64_t block = wk.RH * wk.RV * 16;
#pragma omp for schedule(static)
      for (int64_t os = 0; os < OC * 4; ++os) {
        const int64_t oc = os / 4, sy = (os % 4) / 2, sx = os % 2;
        float* q = placed + os * block;
        std::fill(q, q + block, 0.0f);
        for (int64_t ky = 0; ky < g.KH; ++ky)
          std::copy(wp + (oc * g.KH + ky) * p.R, wp + (oc * g.KH + ky + 1) * p.R,
                    q + (sy * g.stride + ky) * wk.RV * 16 + sx * g.stride * g.C);
      }
    }
    float* xp = per_thread + static_cast<int64_t>(omp_get_thread_num()) * per_thread_size(g);
    float* dxp = xp + p.plane;
    float* window_grad = dxp + p.plane;
    if (dw) std::memset(xp, 0, sizeof(float) * static_cast<size_t>(p.plane));  // the border stays zero
    thread_local Active active;
    find_corners(p, active);
    thread_local std::vector<int32_t> position;  // the maxima's positions in their windows
    if (input_windows) position.resize(static_cast<size_t>(out_size));
    thread_local std::vector<int32_t> from;  // to_channels_last's gather indices
    from.resize(static_cast<size_t>(g.W * g.C));
    for (int64_t j = 0; j < g.W * g.C; ++j)
      from[static_cast<size_t>(j)] = static_cast<int32_t>((j % g.C) * g.H * g.W + j / g.C);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < n_chunks; ++c)
      for (int64_t n = c * kChunk; n < std::min(N, (c + 1) * kChunk); ++n) {
        const bool first = n == c * kChunk;
        // The lists of windows with a gradient (for the input gradient, per window, unless
        // the window kernel takes it from the maxima's positions).
        find_active(dy + n * out_size, y + n * out_size, argmax + n * out_size, g, p, dx && !input_windows,
                    window_grad, active, input_windows ? position.data() : nullptr);
        if (dw) {
          to_channels_last(x + n * in_size, g, p, from.data(), xp);
          k.weight(active, xp, g, p, first, part_dw + c * weights, part_db + c * OC);
        } else if (db) {
          bias_grad(active, g, p, first, part_db + c * OC);
        }
        if (dx) {
          if (input_windows)
            wk.input(window_grad, position.data(), placed, g, p, dxp);
          else
            k.input(active, window_grad, wp, g, p, dxp);
          from_channels_last(dxp, g, p, dx + n * in_size);
        }
      }
    // Chunk partials summed in chunk order into the first chunk's, in blocks across the
    // elements so that the additions run in vector lanes (one element at a time, strided
    // by the chunks, took a sixth of this function's own time), then back to OC×C×KH×KW.
    if (dw) {
      constexpr int64_t kBlock = 256;
#pragma omp for schedule(static)
      for (int64_t i0 = 0; i0 < weights; i0 += kBlock) {
        const int64_t m = std::min(kBlock, weights - i0);
        float* __restrict sum = part_dw + i0;
        for (int64_t c = 1; c < n_chunks; ++c) {
          const float* __restrict part = part_dw + c * weights + i0;
          for (int64_t i = 0; i < m; ++i) sum[i] += part[i];
        }
      }
#pragma omp for schedule(static)
      for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t ky = 0; ky < g.KH; ++ky)
          for (int64_t kx = 0; kx < g.KW; ++kx)
            for (int64_t ch = 0; ch < g.C; ++ch)
              dw[oc * g.C * KK + ch * KK + ky * g.KW + kx] += part_dw[(oc * g.KH + ky) * p.R + kx * g.C + ch];
    }
    if (db) {
#pragma omp single
      conv_detail::add_chunk_partials(part_db, n_chunks, OC, db);
    }
  });
#else
  (void)dy, (void)x, (void)w, (void)g, (void)N, (void)scratch, (void)dw, (void)db, (void)dx, (void)y, (void)argmax;
#endif
}

}  // namespace mnistcnn::kernels
