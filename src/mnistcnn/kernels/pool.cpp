#include "mnistcnn/kernels/pool.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <limits>

#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::kernels {

namespace {

// One output row of 2×2 max pooling: rows a and b (input rows 2·oh and 2·oh+1, whose
// first elements are input indices r0 and r0 + W), OW windows; ao may be null (inference).
inline void maxpool2x2_row(const float* a, const float* b, int64_t OW, int32_t r0, int32_t W, float* yo, int32_t* ao) {
  int64_t ow = 0;
#if defined(__AVX512F__)
  {
    // 16 windows at a time, the last group masked (short rows, as keras-mnist's 5 windows,
    // take one step and no scalar tail): even and odd columns of both rows gathered from
    // two vectors each, then the scalar loop's selects.
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i even = _mm512_add_epi32(lane, lane), odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i offs[4] = {_mm512_setzero_si512(), _mm512_set1_epi32(1), _mm512_set1_epi32(W),
                             _mm512_set1_epi32(W + 1)};
    const auto first = [](int64_t n) {  // lanes i < n, for any n
      return static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << std::max<int64_t>(n, 0)) - 1);
    };
    for (; ow < OW; ow += 16) {
      const int64_t n = std::min<int64_t>(16, OW - ow);
      const __mmask16 lo = first(2 * n), hi = first(2 * n - 16), out = first(n);
      const __m512 alo = _mm512_maskz_loadu_ps(lo, a + 2 * ow), ahi = _mm512_maskz_loadu_ps(hi, a + 2 * ow + 16);
      const __m512 blo = _mm512_maskz_loadu_ps(lo, b + 2 * ow), bhi = _mm512_maskz_loadu_ps(hi, b + 2 * ow + 16);
      const __m512 v[4] = {_mm512_permutex2var_ps(alo, even, ahi), _mm512_permutex2var_ps(alo, odd, ahi),
                           _mm512_permutex2var_ps(blo, even, bhi), _mm512_permutex2var_ps(blo, odd, bhi)};
      __m512 best = v[0];
      __m512i bi = offs[0];
      for (int k = 1; k < 4; ++k) {
        const __mmask16 nan =
            _mm512_cmp_ps_mask(v[k], v[k], _CMP_UNORD_Q) & ~_mm512_cmp_ps_mask(best, best, _CMP_UNORD_Q);
        const __mmask16 take = _mm512_cmp_ps_mask(v[k], best, _CMP_GT_OQ) | nan;
        best = _mm512_mask_blend_ps(take, best, v[k]);
        bi = _mm512_mask_blend_epi32(take, bi, offs[k]);
      }
      const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(r0 + 2 * static_cast<int32_t>(ow)), even);
      _mm512_mask_storeu_ps(yo + ow, out, best);
      if (ao) _mm512_mask_storeu_epi32(ao + ow, out, _mm512_add_epi32(base, bi));
    }
  }
#elif defined(__AVX2__)
  {
    // 8 windows at a time: even and odd columns of both rows, then the scalar loop's
    // selects lane by lane (take v if larger, or NaN while best is not).
    const __m256i lanes = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i off1 = _mm256_set1_epi32(1), off2 = _mm256_set1_epi32(W), off3 = _mm256_set1_epi32(W + 1);
    for (; ow + 8 <= OW; ow += 8) {
      const __m256 alo = _mm256_loadu_ps(a + 2 * ow), ahi = _mm256_loadu_ps(a + 2 * ow + 8);
      const __m256 blo = _mm256_loadu_ps(b + 2 * ow), bhi = _mm256_loadu_ps(b + 2 * ow + 8);
      // shuffle_ps works within 128-bit halves; permute4x64 puts the windows in order.
      const auto order = [](__m256 v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8)); };
      const __m256 v[4] = {order(_mm256_shuffle_ps(alo, ahi, 0x88)), order(_mm256_shuffle_ps(alo, ahi, 0xDD)),
                           order(_mm256_shuffle_ps(blo, bhi, 0x88)), order(_mm256_shuffle_ps(blo, bhi, 0xDD))};
      const __m256i offs[4] = {_mm256_setzero_si256(), off1, off2, off3};
      __m256 best = v[0];
      __m256i bi = offs[0];
      for (int k = 1; k < 4; ++k) {
        const __m256 gt = _mm256_cmp_ps(v[k], best, _CMP_GT_OQ);
        const __m256 nan = _mm256_andnot_ps(_mm256_cmp_ps(best, best, _CMP_UNORD_Q), _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q));
        const __m256 take = _mm256_or_ps(gt, nan);
        best = _mm256_blendv_ps(best, v[k], take);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(offs[k]), take));
      }
      const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(r0 + 2 * static_cast<int32_t>(ow)), lanes);
      _mm256_storeu_ps(yo + ow, best);
      if (ao) _mm256_storeu_si256(reinterpret_cast<__m256i*>(ao + ow), _mm256_add_epi32(base, bi));
    }
  }
  {
    // 4 windows: the same with SSE (shuffle_ps keeps 4 in order).
    const __m128i lanes = _mm_setr_epi32(0, 2, 4, 6);
    const __m128i offs[4] = {_mm_setzero_si128(), _mm_set1_epi32(1), _mm_set1_epi32(W), _mm_set1_epi32(W + 1)};
    for (; ow + 4 <= OW; ow += 4) {
      const __m128 alo = _mm_loadu_ps(a + 2 * ow), ahi = _mm_loadu_ps(a + 2 * ow + 4);
      const __m128 blo = _mm_loadu_ps(b + 2 * ow), bhi = _mm_loadu_ps(b + 2 * ow + 4);
      const __m128 v[4] = {_mm_shuffle_ps(alo, ahi, 0x88), _mm_shuffle_ps(alo, ahi, 0xDD),
                           _mm_shuffle_ps(blo, bhi, 0x88), _mm_shuffle_ps(blo, bhi, 0xDD)};
      __m128 best = v[0];
      __m128i bi = offs[0];
      for (int k = 1; k < 4; ++k) {
        const __m128 gt = _mm_cmpgt_ps(v[k], best);
        const __m128 nan = _mm_andnot_ps(_mm_cmpunord_ps(best, best), _mm_cmpunord_ps(v[k], v[k]));
        const __m128 take = _mm_or_ps(gt, nan);
        best = _mm_blendv_ps(best, v[k], take);
        bi = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(bi), _mm_castsi128_ps(offs[k]), take));
      }
      _mm_storeu_ps(yo + ow, best);
      if (ao)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(ao + ow),
                         _mm_add_epi32(_mm_add_epi32(_mm_set1_epi32(r0 + 2 * static_cast<int32_t>(ow)), lanes), bi));
    }
  }
#endif
  for (; ow < OW; ++ow) {
    const float v0 = a[2 * ow], v1 = a[2 * ow + 1], v2 = b[2 * ow], v3 = b[2 * ow + 1];
    const int32_t i0 = r0 + 2 * static_cast<int32_t>(ow);
    float best = v0;
    int32_t bi = i0;
    // Take v when it is larger, or NaN while best is not.
    const bool t1 = v1 > best || (v1 != v1 && best == best);
    best = t1 ? v1 : best;
    bi = t1 ? i0 + 1 : bi;
    const bool t2 = v2 > best || (v2 != v2 && best == best);
    best = t2 ? v2 : best;
    bi = t2 ? i0 + W : bi;
    const bool t3 = v3 > best || (v3 != v3 && best == best);
    best = t3 ? v3 : best;
    bi = t3 ? i0 + W + 1 : bi;
    yo[ow] = best;
    if (ao) ao[ow] = bi;
  }
}

}  // namespace

// The common case, 2×2 windows with stride 2 and no padding, a row of windows at a time:
// 8 and 4 windows per vector, the rest one by one, with the general loop's result (first
// maximum on ties, NaN wins). The compiler's own vectorisation of the scalar loop took
// twice as long (one image of keras-mnist spent 13% of its time here).
void maxpool2x2_planes(const float* x, int64_t P, int64_t H, int64_t W, float* y, int32_t* argmax) {
  const int64_t OH = H / 2, OW = W / 2;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t r0 = 2 * oh * W;
      const float* a = x + p * H * W + r0;
      maxpool2x2_row(a, a + W, OW, static_cast<int32_t>(r0), static_cast<int32_t>(W), y + (p * OH + oh) * OW,
                     argmax ? argmax + (p * OH + oh) * OW : nullptr);
    }
}

void maxpool_forward(const float* x, int64_t P, const PoolGeometry& g, float* y, int32_t* argmax) {
  if (g.K == 2 && g.stride == 2 && g.pad == 0) {
    const int64_t in_plane = g.H * g.W, out_plane = g.OH() * g.OW();
    parallel_region(true, [&] {
#pragma omp for schedule(static)
      for (int64_t p = 0; p < P; ++p)
        maxpool2x2_planes(x + p * in_plane, 1, g.H, g.W, y + p * out_plane, argmax + p * out_plane);
    });
    return;
  }
  maxpool_forward_ref(x, P, g, y, argmax);
}

void maxpool_forward_ref(const float* x, int64_t P, const PoolGeometry& g, float* y, int32_t* argmax) {
  const int64_t OH = g.OH(), OW = g.OW(), in_plane = g.H * g.W, out_plane = OH * OW;
  parallel_region(true, [&] {
#pragma omp for schedule(static)
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
  });
}

void maxpool_backward(const float* dy, const int32_t* argmax, int64_t P, const PoolGeometry& g,
                      float* dx) {
  const int64_t in_plane = g.H * g.W, out_plane = g.OH() * g.OW();
  parallel_region(true, [&] {
#pragma omp for schedule(static)
    for (int64_t p = 0; p < P; ++p) {
      float* dxp = dx + p * in_plane;
      std::memset(dxp, 0, sizeof(float) * in_plane);
      const float* dyp = dy + p * out_plane;
      const int32_t* ap = argmax + p * out_plane;
      for (int64_t i = 0; i < out_plane; ++i)
        if (ap[i] >= 0) dxp[ap[i]] += dyp[i];
    }
  });
}

void avgpool_forward(const float* x, int64_t P, const PoolGeometry& g, float* y) {
  const int64_t OH = g.OH(), OW = g.OW(), in_plane = g.H * g.W, out_plane = OH * OW;
  const float inv = 1.0f / static_cast<float>(g.K * g.K);
  parallel_region(true, [&] {
#pragma omp for schedule(static)
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
  });
}

void avgpool_backward(const float* dy, int64_t P, const PoolGeometry& g, float* dx) {
  const int64_t OH = g.OH(), OW = g.OW(), in_plane = g.H * g.W, out_plane = OH * OW;
  const float inv = 1.0f / static_cast<float>(g.K * g.K);
  parallel_region(true, [&] {
#pragma omp for schedule(static)
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
  });
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
