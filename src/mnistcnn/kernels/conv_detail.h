// Pieces the convolution's two product paths share (kernels/conv.cpp: columns and gemm;
// kernels/conv_winograd.cpp: Winograd). Not part of the library's interface.
#pragma once
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "mnistcnn/kernels/conv.h"

namespace mnistcnn::kernels::conv_detail {

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

#if defined(__AVX2__)
// Register-level pieces for gathers and scatters of short rows (Winograd's tiles, strided
// columns). They read rows with masked loads and write whole vectors or a tail through a
// temporary, so that no vector load reads what was just stored at another offset (a
// failed store-to-load forward stalls for longer than the arithmetic here takes).

// Lanes i with lo <= i < hi set.
inline __m256i lanes_between(int64_t lo, int64_t hi) {
  const __m256i i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i above_lo = _mm256_cmpgt_epi32(i, _mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(lo, -1, 8)) - 1));
  const __m256i below_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(hi, -1, 8))), i);
  return _mm256_and_si256(above_lo, below_hi);
}

// p[i] for lanes i < n, zero in the others, reading nothing past p[n - 1].
inline __m256 load_first(const float* p, int64_t n) {
  if (n >= 8) return _mm256_loadu_ps(p);
  if (n <= 0) return _mm256_setzero_ps();
  return _mm256_maskload_ps(p, lanes_between(0, n));
}

// p[i] = v[i] for i < n.
inline void store_first(float* p, __m256 v, int64_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  for (int64_t i = 0; i < n; ++i) p[i] = tmp[i];
}

// Even and odd elements of the 16 floats a, b.
inline void split16(__m256 a, __m256 b, __m256& even, __m256& odd) {
  // per 128-bit lane: [a0 a2 b0 b2 | a4 a6 b4 b6], then 64-bit pieces put in order
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}

// 16 floats e0 o0 e1 o1 ... from the even and odd halves.
inline void merge16(__m256 e, __m256 o, __m256& first, __m256& second) {
  const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);  // [e0 o0 e1 o1 | e4 o4 e5 o5], ...
  first = _mm256_permute2f128_ps(lo, hi, 0x20);
  second = _mm256_permute2f128_ps(lo, hi, 0x31);
}

// One vector type's operations, so that a kernel is written once for AVX2's 8 lanes and,
// where the CPU has AVX-512, 16 (twice the products per instruction, 32 registers).
struct Lanes8 {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int width = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static Mask first(int64_t n) { return lanes_between(0, n); }
  static float sum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(s);
  }
};

#if defined(__AVX512F__)
// Lanes i < n of 16 (all from n = 16 on, none for n <= 0).
inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16{0xFFFF} : n <= 0 ? __mmask16{0} : static_cast<__mmask16>((1u << n) - 1);
}

// A one-channel input split into its even and odd columns, for kernels whose lanes are 16
// windows of 2×2 max pooling along a row (conv_pooled.cpp's backward, conv_direct.cpp's
// forward): window pw's positions read columns 2pw + sx + kx, a fixed offset into one of
// the two. Floats per split row: the windows' blocks of 16 and the offsets past them (up
// to KW/2 + 1 <= 3), rounded to whole vectors.
struct SplitPlan {
  int64_t Hp, OW, PH, PW, blocks, half, sample;
  explicit SplitPlan(const ConvGeometry& g)
      : Hp(g.H + 2 * g.pad),
        OW(g.OW()),
        PH(g.OH() / 2),
        PW(g.OW() / 2),
        blocks((PW + 15) / 16),
        half(16 * blocks + 16),
        sample(2 * Hp * half) {}
};

// x (H×W) -> its padded rows' even columns at dst + 2r·half, odd at dst + (2r+1)·half.
// The padding rows and what lies past a row's columns are left as they are: the caller
// zeroes dst once. row: 2·half + 32 floats, zero (the caller's) but where a padded row is
// copied in.
inline void split_columns(const float* x, const ConvGeometry& g, const SplitPlan& p, float* row, float* dst) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i even = _mm512_add_epi32(lane, lane), odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const int64_t n = g.W + 2 * g.pad, columns = (n + 1) / 2;
  for (int64_t ih = 0; ih < g.H; ++ih) {
    float* e = dst + 2 * (ih + g.pad) * p.half;
    float* o = e + p.half;
    // Without padding straight from x (masked loads read nothing past its row); with it
    // through the bordered row.
    const float* src = x + ih * g.W;
    if (g.pad > 0) {
      copy_row(src, row + g.pad, g.W);
      src = row;
    }
    for (int64_t j = 0; j < columns; j += 16) {
      const __m512 a = _mm512_maskz_loadu_ps(first_lanes(n - 2 * j), src + 2 * j);
      const __m512 b = _mm512_maskz_loadu_ps(first_lanes(n - 2 * j - 16), src + 2 * j + 16);
      _mm512_storeu_ps(e + j, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(o + j, _mm512_permutex2var_ps(a, odd, b));
    }
  }
}

struct Lanes16 {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int width = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Mask first(int64_t n) { return first_lanes(n); }
  static float sum(V v) {  // through memory: GCC 12's 512-to-256 casts and extracts warn (bug 105593)
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    return Lanes8::sum(_mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)));
  }
};
#endif
#endif

// Samples per weight-gradient partial sum: partials are summed in chunk order, so the
// result does not depend on the thread count.
constexpr int64_t kChunk = 4;

// Sum of n floats in 32 independent lanes, added up in a fixed order at the end: one
// running sum is a chain of dependent additions (4 cycles each); 32 lanes are 4 vectors
// of AVX2 (2 of AVX-512) whose additions overlap.
float lane_sum(const float* p, int64_t n);

// One sample's bias gradient into a chunk partial: pdb[oc] = (first ? 0 : pdb[oc]) + the
// sum of dy's plane oc (OC planes of L).
void add_bias_grad(const float* dy, int64_t OC, int64_t L, bool first, float* pdb);

// dst (C planes of (H + 2·pad)×(W + 2·pad)) = x (C×H×W) with pad zeros around each plane.
void bordered_copy(const float* x, const ConvGeometry& g, float* dst);

// out[i] += parts[0·n + i] + parts[1·n + i] + ... over n_chunks chunk partials, added in
// chunk order (so the result does not depend on which thread made which partial).
inline void add_chunk_partials(const float* parts, int64_t n_chunks, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    float sum = 0.0f;
    for (int64_t c = 0; c < n_chunks; ++c) sum += parts[c * n + i];
    out[i] += sum;
  }
}

// One sample's output out (OC×OH×OW, without bias) gets the bias (b may be null) and the
// fused layers: in place for None and Relu (y == out), pooled from out into y for
// ReluMaxPool2, with its argmax.
void bias_and_fused(const float* b, const ConvGeometry& g, Fuse fuse, float* out, float* y, int32_t* argmax);

}  // namespace mnistcnn::kernels::conv_detail
