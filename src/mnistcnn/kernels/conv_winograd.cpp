#include "mnistcnn/kernels/conv_winograd.h"

#include <omp.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>

#include "mnistcnn/kernels/conv_detail.h"
#include "mnistcnn/kernels/gemm.h"
#include "mnistcnn/kernels/parallel.h"

// Matrices (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015):
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   input tile d (4×4):  V = Bᵀ d B
//   G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]            filter g (3×3):      U = G g Gᵀ
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]                      output (2×2):        Y = Aᵀ (U ⊙ V) A
// Transformed values are stored as 16 matrices (slab() apart), element ξ = 4a + k of every
// tile: V as 16 × C × P and the products as 16 × OC × P (the forward's: 16 × kOcBlock × P,
// one block of output channels at a time), where P counts the tiles of a chunk of
// samples (sample-major, then tile rows, then tile columns), so that the loops over tile
// columns read and write contiguous floats.

namespace mnistcnn::kernels {

namespace {

#if defined(__AVX2__)
using conv_detail::Lanes8;
using conv_detail::load_first;
using conv_detail::lanes_between;
using conv_detail::merge16;
using conv_detail::split16;
using conv_detail::store_first;
#endif
#if defined(__AVX512F__)
using conv_detail::first_lanes;
using conv_detail::Lanes16;

// Permutations: a's and b's first 8 lanes interleaved (permutex2var); lanes from, from + 2,
// ..., from + 14 of a vector into the first 8 (permutexvar).
inline __m512i interleave8() { return _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23); }
inline __m512i every_other8(int from) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_add_epi32(even, _mm512_set1_epi32(from));
}
#endif

// Tiles per chunk of samples (a chunk is at least one sample): enough columns for the 16
// products to run near the gemm's rate, few enough that the transformed chunk stays near
// the core's cache. Measured with mnistcnn_bench_kernels (docs/BENCHMARKS.md); the
// backward's chunks are also its weight-gradient partial sums, fixed by the geometry
// alone so that the result does not depend on the thread count. With AVX-512 the
// forward's register blocks are 48 tiles wide, and 144 filled them for keras-mnist (4
// samples of 36 tiles; 72 left blocks of 16 and 8: its forward 1.1-1.2x slower). Pooled,
// its samples have 25 tiles: 144 gives chunks of 5 (125), which ran inference faster than
// targets of 100, 150 or 200 (1.08-1.20x).
#if defined(__AVX512F__)
constexpr int64_t kForwardTiles = 144;
#else
constexpr int64_t kForwardTiles = 72;
#endif
// Fewest tiles in a batch for Winograd to beat the columns (winograd_applies): measured
// apart from the chunk size above.
constexpr int64_t kMinBatchTiles = 72;
constexpr int64_t kBackwardTiles = 144;
constexpr int64_t kXi = 16;  // transformed values per tile

// The forward's products M = U·V run in register blocks of kOcBlock output channels times
// up to kTileVectors vectors of tiles (8 each, 16 with AVX-512: products_block), not in 16
// gemms: one block of output channels at a time, so that its 16 products for a chunk
// (16 × kOcBlock × 72 floats for keras-mnist) are still in L1 for the output transform
// (the gemms' 16 × OC × P were not, 295 KB for keras-mnist), and a chunk's blocks can be
// shared out among the threads.
#if defined(__AVX512F__)
// 32 vector registers: 8 channels × 3 vectors of 16 tiles in 24 accumulators.
constexpr int64_t kOcBlock = 8;
#else
constexpr int64_t kOcBlock = 4;
#endif
constexpr int kTileVectors = 3;
// Sums over at most this many input channels stay in registers; longer ones are added up
// in blocks of it (as a gemm's K blocks).
constexpr int64_t kChannelsPerSum = 128;

// The 16 matrices of transformed values (V, dM, dV: rows × P each) lie one cache line more
// than their size apart: keras-mnist's output gradient dM, 64 × 144 floats, is a multiple
// of 4 KB, and 16 such matrices exactly apart put each tile's 16 values in one L1 set.
int64_t slab(int64_t rows, int64_t P) { return rows * P + 16; }

int64_t padded_oc(int64_t OC) { return (OC + kOcBlock - 1) / kOcBlock * kOcBlock; }
int64_t padded_tiles(int64_t P) { return (P + 7) / 8 * 8; }

struct Tiles {
  int64_t TH, TW;  // 2×2 output blocks per column and per row
  int64_t count() const { return TH * TW; }
  // Tile (i, j) covers rows 2i..2i+3 and columns 2j..2j+3 of the zero-bordered plane.
  // Its value at (a, b) is kept in plane (b, a % 2) at (i + a / 2)·TW + j, where plane
  // (b, e) holds the bordered plane's rows of parity e, column 2j + b at j: so for one
  // (a, b) all tiles' values are count() consecutive floats, and transforms run across
  // them in vector lanes without copying tiles out. Plane (b, e) starts 2b + e planes in.
  // Planes and rows of values have 8 floats of slack: a row of TW is written in whole
  // vectors, the spill landing on the next row (written later) or the slack.
  int64_t plane() const { return (TH + 1) * TW + 8; }
  int64_t row() const { return count() + 8; }
  int64_t half8() const { return (TW + 8) & ~int64_t{7}; }  // TW + 1 rounded up to whole vectors
  int64_t line() const { return 2 * half8() + 2 * (half8() + 8); }  // a bordered row, its even and odd halves
  int64_t work() const { return 8 * plane() + 16 * row() + line(); }
};

Tiles tiles_of(const ConvGeometry& g) { return {(g.OH() + 1) / 2, (g.OW() + 1) / 2}; }

int64_t chunk_of(const Tiles& t, int64_t target) { return std::max<int64_t>(1, target / t.count()); }

// even[j] = src[2j], odd[j] = src[2j + 1] for j < n. With AVX2 it reads 2·r and writes
// r floats of each, r = n rounded up to a multiple of 8.
inline void deinterleave(const float* src, int64_t n, float* even, float* odd) {
#if defined(__AVX2__)
  for (int64_t j = 0; j < n; j += 8) {
    __m256 e, o;
    split16(_mm256_loadu_ps(src + 2 * j), _mm256_loadu_ps(src + 2 * j + 8), e, o);
    _mm256_storeu_ps(even + j, e);
    _mm256_storeu_ps(odd + j, o);
  }
#else
  for (int64_t j = 0; j < n; ++j) {
    even[j] = src[2 * j];
    odd[j] = src[2 * j + 1];
  }
#endif
}

// dst[2j] = even[j], dst[2j + 1] = odd[j] for j < n. With AVX2 it reads r floats of each
// and writes 2·r, r = n rounded up to a multiple of 8.
inline void interleave(const float* even, const float* odd, int64_t n, float* dst) {
#if defined(__AVX2__)
  for (int64_t j = 0; j < n; j += 8) {
    __m256 first, second;
    merge16(_mm256_loadu_ps(even + j), _mm256_loadu_ps(odd + j), first, second);
    _mm256_storeu_ps(dst + 2 * j, first);
    _mm256_storeu_ps(dst + 2 * j + 8, second);
  }
#else
  for (int64_t j = 0; j < n; ++j) {
    dst[2 * j] = even[j];
    dst[2 * j + 1] = odd[j];
  }
#endif
}

// Copies TW floats (with AVX2 whole vectors: up to 7 more, into slack).
inline void copy_tiles_row(const float* src, float* dst, int64_t TW) {
#if defined(__AVX2__)
  for (int64_t k = 0; k < TW; k += 8) _mm256_storeu_ps(dst + k, _mm256_loadu_ps(src + k));
#else
  for (int64_t k = 0; k < TW; ++k) dst[k] = src[k];
#endif
}

// The 8 planes of xc (H×W) with `pad` zeros before it and zeros after.
void split_plane(const float* xc, const ConvGeometry& g, const Tiles& t, float* planes, float* line) {
  const int64_t TW = t.TW, ps = t.plane(), width = 2 * t.half8();
  float* even = line + width;
  float* odd = even + t.half8() + 8;
  for (int64_t r = 0; r < 2 * t.TH + 2; ++r) {
    const int64_t ih = r - g.pad;
    float* p0 = planes + (r % 2) * ps + (r / 2) * TW;  // plane (b, r % 2) is p0 + 2b planes
    if (ih < 0 || ih >= g.H) {
      for (int b = 0; b < 4; ++b) conv_detail::zero_row(p0 + 2 * b * ps, TW);
      continue;
    }
// (An AVX-512 version, two loads and four permutex2var per 8 tiles, was slower than this
// AVX2 code: record's 24x24 layer's forward 1.22x, keras-mnist's 1.02x.)
#if defined(__AVX2__)
    if (g.pad == 0) {  // plane (b, e) column j is row[2j + b]: straight from the row
      const float* row = xc + ih * g.W;
      for (int64_t k = 0; k < TW; k += 8)
        for (int b = 0; b < 4; b += 2) {
          const int64_t q = 2 * k + b;
          __m256 e, o;
          split16(load_first(row + q, g.W - q), load_first(row + q + 8, g.W - q - 8), e, o);
          _mm256_storeu_ps(p0 + 2 * b * ps + k, e);
          _mm256_storeu_ps(p0 + 2 * (b + 1) * ps + k, o);
        }
      continue;
    }
#endif
    conv_detail::zero_row(line, width);
    conv_detail::copy_row(xc + ih * g.W, line + g.pad, g.W);
    deinterleave(line, TW + 1, even, odd);
    copy_tiles_row(even, p0, TW);
    copy_tiles_row(odd, p0 + 2 * ps, TW);
    copy_tiles_row(even + 1, p0 + 4 * ps, TW);
    copy_tiles_row(odd + 1, p0 + 6 * ps, TW);
  }
}

// u = G f Gᵀ for a filter's 3×3 weights f (f[3p + q]); V is a float or 8 filters' values.
template <class V>
inline void filter_tile(const V (&f)[9], V (&u)[16]) {
  V h[4][3];  // G f
  for (int q = 0; q < 3; ++q) {
    h[0][q] = f[q];
    h[1][q] = 0.5f * (f[q] + f[3 + q] + f[6 + q]);
    h[2][q] = 0.5f * (f[q] - f[3 + q] + f[6 + q]);
    h[3][q] = f[6 + q];
  }
  for (int a = 0; a < 4; ++a) {  // (G f) Gᵀ
    u[4 * a + 0] = h[a][0];
    u[4 * a + 1] = 0.5f * (h[a][0] + h[a][1] + h[a][2]);
    u[4 * a + 2] = 0.5f * (h[a][0] - h[a][1] + h[a][2]);
    u[4 * a + 3] = h[a][2];
  }
}

// U (16 × OC × C) from w (OC × C × 3 × 3), 8 of U's consecutive floats at a time, their
// filters' weights gathered into 8 lanes (one filter at a time, the 16 stores went to 16
// places 8 KB apart). Called in a parallel region, its threads share the filters (an
// orphaned `omp for`, with its barrier). With `blocked`, U is laid out for products_block
// instead: per ξ, blocks of kOcBlock output channels, each C × kOcBlock (channels past OC
// zero).
void transform_filters(const float* w, const ConvGeometry& g, float* U, bool blocked = false) {
  const int64_t C = g.C, per_xi = blocked ? padded_oc(g.OC) * C : g.OC * C, block = kOcBlock * C;
#pragma omp for schedule(static)
  for (int64_t i0 = 0; i0 < per_xi; i0 += 8) {
    const int64_t n = std::min<int64_t>(8, per_xi - i0);
    // U's float i0 + l comes from filter first + offset[l] (none: -1, a padding channel's
    // zeros). Blocked, a block of kOcBlock·C floats holds channel c's kOcBlock filters in
    // turn (8 floats may reach into the next block: with AVX2's blocks of 4, when C is odd).
    int64_t at_block = i0 / block, in_block = i0 % block;
    const int64_t first = blocked ? (at_block * kOcBlock + in_block % kOcBlock) * C + in_block / kOcBlock : i0;
    int32_t offset[8];
    for (int l = 0; l < 8; ++l, ++in_block) {
      if (in_block == block) at_block += 1, in_block = 0;
      const int64_t oc = at_block * kOcBlock + in_block % kOcBlock, c = in_block / kOcBlock;
      offset[l] = l >= n || (blocked && oc >= g.OC) ? -1 : static_cast<int32_t>(blocked ? oc * C + c - first : l);
    }
#if defined(__AVX2__)
    const __m256i at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offset));
    const __m256 valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(at, _mm256_set1_epi32(-1)));
    const __m256i at9 = _mm256_mullo_epi32(at, _mm256_set1_epi32(9));
    __m256 f[9], u[16];
    for (int k = 0; k < 9; ++k)
      f[k] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), w + first * 9 + k, at9, valid, 4);
    filter_tile(f, u);
    for (int xi = 0; xi < 16; ++xi) {
      float* dst = U + xi * per_xi + i0;
      if (n == 8) _mm256_storeu_ps(dst, u[xi]);
      else store_first(dst, u[xi], n);
    }
#else
    for (int64_t l = 0; l < n; ++l) {
      float f[9] = {}, u[16];
      if (offset[l] >= 0)
        for (int k = 0; k < 9; ++k) f[k] = w[(first + offset[l]) * 9 + k];
      filter_tile(f, u);
      for (int xi = 0; xi < 16; ++xi) U[xi * per_xi + i0 + l] = u[xi];
    }
#endif
  }
}

// dw (OC × C × 3 × 3) += Gᵀ dU G, from dU (16 × OC × C), 8 filters at a time as
// transform_filters.
void filter_gradient(const float* dU, const ConvGeometry& g, float* dw) {
  const int64_t OCC = g.OC * g.C;
  for (int64_t i0 = 0; i0 < OCC; i0 += 8) {
    const int64_t n = std::min<int64_t>(8, OCC - i0);
    float u[16][8] = {};
    for (int xi = 0; xi < 16; ++xi)
      for (int64_t l = 0; l < n; ++l) u[xi][l] = dU[xi * OCC + i0 + l];
    float h[4][3][8];  // dU G
    for (int a = 0; a < 4; ++a)
      for (int l = 0; l < 8; ++l) {
        const float u0 = u[4 * a + 0][l], u1 = u[4 * a + 1][l], u2 = u[4 * a + 2][l], u3 = u[4 * a + 3][l];
        h[a][0][l] = u0 + 0.5f * (u1 + u2);
        h[a][1][l] = 0.5f * (u1 - u2);
        h[a][2][l] = 0.5f * (u1 + u2) + u3;
      }
    float f[9][8];
    for (int q = 0; q < 3; ++q)
      for (int l = 0; l < 8; ++l) {  // Gᵀ (dU G)
        f[q][l] = h[0][q][l] + 0.5f * (h[1][q][l] + h[2][q][l]);
        f[3 + q][l] = 0.5f * (h[1][q][l] - h[2][q][l]);
        f[6 + q][l] = 0.5f * (h[1][q][l] + h[2][q][l]) + h[3][q][l];
      }
    for (int64_t l = 0; l < n; ++l)
      for (int k = 0; k < 9; ++k) dw[(i0 + l) * 9 + k] += f[k][l];
  }
}

// The four transforms work on 16 rows of n values, one value per tile (row ξ = 4a + k at
// in[ξ · in_ld], out[ξ · out_ld]): every operation is the same for all tiles, so each loop
// runs across the tiles in vector lanes. Tiles are gathered into rows and scattered from
// them separately. Each transform's arithmetic is written once, over a value type V that
// is a float (loops GCC vectorises, `omp simd`) or, with AVX-512, 16 tiles' values in one
// vector (loops of our own, the last 16 masked: GCC's would run the tail one tile at a time).

// o = Bᵀ d B for a tile's 4×4 input d (d[4a + b]).
template <class V>
inline void input_tile(const V (&d)[16], V (&o)[16]) {
  V r[4][4];  // each row of d times B
  for (int a = 0; a < 4; ++a) {
    r[a][0] = d[4 * a + 0] - d[4 * a + 2];
    r[a][1] = d[4 * a + 1] + d[4 * a + 2];
    r[a][2] = d[4 * a + 2] - d[4 * a + 1];
    r[a][3] = d[4 * a + 1] - d[4 * a + 3];
  }
  for (int k = 0; k < 4; ++k) {  // Bᵀ on the columns
    o[0 + k] = r[0][k] - r[2][k];
    o[4 + k] = r[1][k] + r[2][k];
    o[8 + k] = r[2][k] - r[1][k];
    o[12 + k] = r[1][k] - r[3][k];
  }
}

// o (the 2×2 block, r·2 + q) = Aᵀ m A for a tile's 4×4 products m.
template <class V>
inline void output_tile(const V (&m)[16], V (&o)[4]) {
  V s[2][4];  // Aᵀ on the rows
  for (int k = 0; k < 4; ++k) {
    s[0][k] = m[0 + k] + m[4 + k] + m[8 + k];
    s[1][k] = m[4 + k] - m[8 + k] - m[12 + k];
  }
  for (int r = 0; r < 2; ++r) {  // then A on the columns
    o[2 * r + 0] = s[r][0] + s[r][1] + s[r][2];
    o[2 * r + 1] = s[r][1] - s[r][2] - s[r][3];
  }
}

// o = A e Aᵀ for a tile's 2×2 output gradient e (r·2 + q).
template <class V>
inline void output_grad_tile(const V (&e)[4], V (&o)[16]) {
  V u[2][4];  // A on the columns of each row
  for (int r = 0; r < 2; ++r) {
    u[r][0] = e[2 * r];
    u[r][1] = e[2 * r] + e[2 * r + 1];
    u[r][2] = e[2 * r] - e[2 * r + 1];
    u[r][3] = -e[2 * r + 1];
  }
  for (int k = 0; k < 4; ++k) {  // then on the rows
    o[0 + k] = u[0][k];
    o[4 + k] = u[0][k] + u[1][k];
    o[8 + k] = u[0][k] - u[1][k];
    o[12 + k] = -u[1][k];
  }
}

// o = B v Bᵀ for a tile's 4×4 transformed input gradient v.
template <class V>
inline void input_grad_tile(const V (&v)[16], V (&o)[16]) {
  V h[4][4];  // each row of v times Bᵀ
  for (int a = 0; a < 4; ++a) {
    h[a][0] = v[4 * a + 0];
    h[a][1] = v[4 * a + 1] - v[4 * a + 2] + v[4 * a + 3];
    h[a][2] = v[4 * a + 1] + v[4 * a + 2] - v[4 * a + 0];
    h[a][3] = -v[4 * a + 3];
  }
  for (int q = 0; q < 4; ++q) {  // then B on the columns
    o[0 + q] = h[0][q];
    o[4 + q] = h[1][q] - h[2][q] + h[3][q];
    o[8 + q] = h[1][q] + h[2][q] - h[0][q];
    o[12 + q] = -h[3][q];
  }
}

// out[i · out_ld + p] = transform(in[i][p] or in[i · in_ld + p]) for p < n: NI rows in,
// NO rows out. `Rows` says where input row i starts.
template <int NI, int NO, class Rows, class Transform>
inline void transform_rows(Rows in, float* __restrict out, int64_t out_ld, int64_t n, Transform transform) {
#if defined(__AVX512F__)
  for (int64_t p = 0; p < n; p += 16) {
    const __mmask16 m = first_lanes(n - p);
    __m512 a[NI], b[NO];
    for (int i = 0; i < NI; ++i) a[i] = _mm512_maskz_loadu_ps(m, in(i) + p);
    transform(a, b);
    for (int i = 0; i < NO; ++i) _mm512_mask_storeu_ps(out + i * out_ld + p, m, b[i]);
  }
#else
  const float* __restrict row[NI];
  for (int i = 0; i < NI; ++i) row[i] = in(i);
#pragma omp simd
  for (int64_t p = 0; p < n; ++p) {
    float a[NI], b[NO];
    for (int i = 0; i < NI; ++i) a[i] = row[i][p];
    transform(a, b);
    for (int i = 0; i < NO; ++i) out[i * out_ld + p] = b[i];
  }
#endif
}

// out = Bᵀ d B for the tiles' 4×4 inputs d (value (a, b) of every tile at in[4a + b]).
void input_rows(const float* const* in, float* __restrict out, int64_t out_ld, int64_t n) {
  transform_rows<16, 16>([in](int i) { return in[i]; }, out, out_ld, n,
                         [](const auto& x, auto& y) { input_tile(x, y); });
}

// out (4 rows: the 2×2 block, r·2 + q) = Aᵀ m A for the tiles' 4×4 products m.
void output_rows(const float* __restrict in, int64_t in_ld, float* __restrict out, int64_t out_ld, int64_t n) {
  transform_rows<16, 4>([=](int i) { return in + i * in_ld; }, out, out_ld, n,
                        [](const auto& x, auto& y) { output_tile(x, y); });
}

// out = A e Aᵀ for the tiles' 2×2 output gradients e (4 rows, r·2 + q).
void output_grad_rows(const float* __restrict in, int64_t in_ld, float* __restrict out, int64_t out_ld, int64_t n) {
  transform_rows<4, 16>([=](int i) { return in + i * in_ld; }, out, out_ld, n,
                        [](const auto& x, auto& y) { output_grad_tile(x, y); });
}

// out = B v Bᵀ for the tiles' 4×4 transformed input gradients v.
void input_grad_rows(const float* __restrict in, int64_t in_ld, float* __restrict out, int64_t out_ld, int64_t n) {
  transform_rows<16, 16>([=](int i) { return in + i * in_ld; }, out, out_ld, n,
                         [](const auto& x, auto& y) { input_grad_tile(x, y); });
}

// One sample x (C×H×W) into columns [col0, col0 + tiles) of V (16 × C × P).
void transform_input(const float* x, const ConvGeometry& g, const Tiles& t, int64_t P, int64_t col0, float* V,
                     float* work) {
  const int64_t ps = t.plane(), TW = t.TW;
  const float* d[16];  // value (a, b) of every tile: plane (b, a % 2), a / 2 rows on
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) d[4 * a + b] = work + (2 * b + a % 2) * ps + (a / 2) * TW;
  float* line = work + 8 * ps + 16 * t.row();
  for (int64_t c = 0; c < g.C; ++c) {
    split_plane(x + c * g.H * g.W, g, t, work, line);
    input_rows(d, V + c * P + col0, slab(g.C, P), t.count());
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// m[r·ldm + j] (r < kOcBlock, j < width·NV) = Σ over c < C of u[c·kOcBlock + r] · v[c·ldv + j]
// (added to m when `add`): one element ξ's products for kOcBlock output channels and NV
// vectors of tiles (8 or, with AVX-512, 16 each), every loop over the accumulators
// unrolled so that they stay in registers.
template <class T, int NV>
void products_block(const float* __restrict u, const float* __restrict v, int64_t ldv, int64_t C, bool add,
                    float* __restrict m, int64_t ldm) {
  using V = typename T::V;
  V acc[kOcBlock * NV];
#pragma GCC unroll 32
  for (int i = 0; i < kOcBlock * NV; ++i) acc[i] = T::zero();
  for (int64_t c = 0; c < C; ++c, u += kOcBlock, v += ldv) {
    V vv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      vv[j] = T::load(v + T::width * j);
      asm("" : "+v"(vv[j]));  // one load per vector, not one per product
    }
#pragma GCC unroll 8
    for (int r = 0; r < kOcBlock; ++r) {
      const V b = T::broadcast(u + r);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r * NV + j] = T::fmadd(b, vv[j], acc[r * NV + j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kOcBlock; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      float* dst = m + r * ldm + T::width * j;
      T::store(dst, add ? T::add(T::load(dst), acc[r * NV + j]) : acc[r * NV + j]);
    }
}
#else
// The same, n tiles at a time, without vectors.
void products_block_scalar(const float* u, const float* v, int64_t ldv, int64_t C, bool add, float* m, int64_t ldm,
                           int64_t n) {
  for (int r = 0; r < kOcBlock; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (int64_t c = 0; c < C; ++c) sum += u[c * kOcBlock + r] * v[c * ldv + j];
      m[r * ldm + j] = (add ? m[r * ldm + j] : 0.0f) + sum;
    }
}
#endif

// Mb (16 × kOcBlock × Pp: ξ, channel, tile) = the products of one block of output
// channels, whose filters are Ub (per ξ, C × kOcBlock; ξ's ub_ld apart), with V
// (16 × C × Pp). Pp is a multiple of 8.
void products(const float* Ub, int64_t ub_ld, const float* V, int64_t C, int64_t Pp, float* Mb) {
  for (int64_t xi = 0; xi < kXi; ++xi)
    for (int64_t c0 = 0; c0 < C; c0 += kChannelsPerSum) {
      const int64_t nc = std::min(kChannelsPerSum, C - c0);
      const float* u = Ub + xi * ub_ld + c0 * kOcBlock;
      const float* v = V + xi * slab(C, Pp) + c0 * Pp;
      float* m = Mb + xi * kOcBlock * Pp;
      const bool add = c0 > 0;
#if defined(__AVX2__) && defined(__FMA__)
      int64_t p = 0;
#if defined(__AVX512F__)
      for (; p + 16 * kTileVectors <= Pp; p += 16 * kTileVectors)
        products_block<Lanes16, kTileVectors>(u, v + p, Pp, nc, add, m + p, Pp);
      if (Pp - p >= 32) {
        products_block<Lanes16, 2>(u, v + p, Pp, nc, add, m + p, Pp);
        p += 32;
      } else if (Pp - p >= 16) {
        products_block<Lanes16, 1>(u, v + p, Pp, nc, add, m + p, Pp);
        p += 16;
      }
#endif
      for (; p + 8 * kTileVectors <= Pp; p += 8 * kTileVectors)
        products_block<Lanes8, kTileVectors>(u, v + p, Pp, nc, add, m + p, Pp);
      if (Pp - p == 16) products_block<Lanes8, 2>(u, v + p, Pp, nc, add, m + p, Pp);
      else if (Pp - p == 8) products_block<Lanes8, 1>(u, v + p, Pp, nc, add, m + p, Pp);
#else
      products_block_scalar(u, v, Pp, nc, add, m, Pp, Pp);
#endif
    }
}

// One sample's output channels [0, n_oc) of out (n_oc×OH×OW, channel planes OH·OW apart)
// from columns [col0, col0 + tiles) of the products M (16 rows xi_ld apart, channel oc's
// row oc·oc_ld on), the blocks past an odd edge dropped.
void transform_output(const float* M, int64_t xi_ld, int64_t oc_ld, int64_t n_oc, const ConvGeometry& g,
                      const Tiles& t, int64_t col0, float* out, float* work) {
  const int64_t TW = t.TW, rs = t.row(), OH = g.OH(), OW = g.OW();
  float* blk = work + 8 * t.plane();  // 4 rows: each tile's 2×2 outputs
  for (int64_t oc = 0; oc < n_oc; ++oc) {
    output_rows(M + oc * oc_ld + col0, xi_ld, blk, rs, t.count());
    for (int64_t oh = 0; oh < OH; ++oh) {
      const float* b0 = blk + (2 * (oh % 2)) * rs + (oh / 2) * TW;
      float* row = out + (oc * OH + oh) * OW;
#if defined(__AVX512F__)
      for (int64_t k = 0; k < TW; k += 8) {  // 8 blocks' 16 outputs in one vector
        const __m512 e = _mm512_maskz_loadu_ps(0xFF, b0 + k), o = _mm512_maskz_loadu_ps(0xFF, b0 + rs + k);
        _mm512_mask_storeu_ps(row + 2 * k, first_lanes(OW - 2 * k), _mm512_permutex2var_ps(e, interleave8(), o));
      }
#elif defined(__AVX2__)
      for (int64_t k = 0; k < TW; k += 8) {
        __m256 first, second;
        merge16(_mm256_loadu_ps(b0 + k), _mm256_loadu_ps(b0 + rs + k), first, second);
        store_first(row + 2 * k, first, OW - 2 * k);
        store_first(row + 2 * k + 8, second, OW - 2 * k - 8);
      }
#else
      float* line = blk + 16 * rs;
      interleave(b0, b0 + rs, TW, line);
      conv_detail::copy_row(line, row, OW);
#endif
    }
  }
}

#if defined(__AVX512F__)
// A fused 2×2 max pooling's windows are exactly the 2×2 tiles (those inside the pooled
// plane), so with AVX-512 a pooled layer is pooled straight from the products, 16 tiles
// to a vector: no full-size output written and read back, no row-by-row pooling pass.
// Tables of up to this many tiles per sample live on the stack.
constexpr int64_t kPooledMaxTiles = 1024;

// The tiles that are windows, and each tile's top-left output (its index in the OH×OW
// plane, as the pooling's argmax counts).
struct Windows {
  __mmask16 in_pool[kPooledMaxTiles / 16];
  alignas(64) int32_t corner[kPooledMaxTiles];
  // Built only `where` pooled layers are pooled here.
  Windows(const ConvGeometry& g, const Tiles& t, bool where) {
    if (!where) return;
    const int64_t n = t.count(), padded = (n + 15) / 16 * 16;
    std::fill_n(in_pool, padded / 16, __mmask16{0});
    std::fill_n(corner, padded, 0);
    for (int64_t i = 0, p = 0; i < t.TH; ++i)
      for (int64_t j = 0; j < t.TW; ++j, ++p) {
        corner[p] = static_cast<int32_t>(2 * i * g.OW() + 2 * j);
        if (i < g.OH() / 2 && j < g.OW() / 2)
          in_pool[p / 16] = static_cast<__mmask16>(in_pool[p / 16] | (1u << (p % 16)));
      }
  }
  // Offsets of a window's 4 outputs from its corner, in the pooling's order.
  static __m512i offset(int k, int64_t OW) { return _mm512_set1_epi32(static_cast<int32_t>((k / 2) * OW + k % 2)); }
};

// One sample's pooled output channels [0, n_oc) of y (and argmax; n_oc planes of the
// pooled size) from columns [col0, col0 + tiles) of the products M, as transform_output:
// each tile's 2×2 outputs, the bias (b may be null), the ReLU, then the first maximum of
// the window and where it was, compressed to the windows' lanes. Same bits as
// transform_output then bias_and_fused (after the ReLU there is no NaN to propagate).
void transform_output_pooled(const float* M, int64_t xi_ld, int64_t oc_ld, int64_t n_oc, const ConvGeometry& g,
                             const Tiles& t, const Windows& win, int64_t col0, const float* b, float* y,
                             int32_t* argmax) {
  const int64_t n = t.count(), OW = g.OW(), PL = (g.OH() / 2) * (OW / 2);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t oc = 0; oc < n_oc; ++oc) {
    const float* m = M + oc * oc_ld + col0;
    const __m512 bias = _mm512_set1_ps(b ? b[oc] : 0.0f);
    int64_t done = 0;  // windows written
    for (int64_t p = 0; p < n; p += 16) {
      const __mmask16 lanes = first_lanes(n - p), keep = win.in_pool[p / 16];
      __m512 in[16], o[4];
      for (int xi = 0; xi < 16; ++xi) in[xi] = _mm512_maskz_loadu_ps(lanes, m + xi * xi_ld + p);
      output_tile(in, o);
      __m512 best = zero;
      __m512i at = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) {
        __m512 v = b ? _mm512_add_ps(o[k], bias) : o[k];
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v);
        const __mmask16 take = k == 0 ? __mmask16{0xFFFF} : _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
        best = _mm512_mask_blend_ps(take, best, v);
        at = _mm512_mask_blend_epi32(take, at, Windows::offset(k, OW));
      }
      const int64_t count = __builtin_popcount(keep);
      _mm512_mask_storeu_ps(y + oc * PL + done, first_lanes(count), _mm512_maskz_compress_ps(keep, best));
      if (argmax) {
        const __m512i where = _mm512_add_epi32(_mm512_load_si512(win.corner + p), at);
        _mm512_mask_storeu_epi32(argmax + oc * PL + done, first_lanes(count), _mm512_maskz_compress_epi32(keep, where));
      }
      done += count;
    }
  }
}
#endif

// One sample's output gradient dy (OC×OH×OW) into columns [col0, col0 + tiles) of
// dM (16 × OC × P), zero past an odd edge.
void transform_output_grad(const float* dy, const ConvGeometry& g, const Tiles& t, int64_t P, int64_t col0,
                           float* dM, float* work) {
  const int64_t TW = t.TW, rs = t.row(), OH = g.OH(), OW = g.OW();
  float* blk = work + 8 * t.plane();  // 4 rows: each tile's 2×2 gradient
  for (int64_t oc = 0; oc < g.OC; ++oc) {
    for (int64_t i = 0; i < t.TH; ++i)
      for (int r = 0; r < 2; ++r) {
        float* b0 = blk + (2 * r) * rs + i * TW;
        if (2 * i + r >= OH) {
          conv_detail::zero_row(b0, TW);
          conv_detail::zero_row(b0 + rs, TW);
          continue;
        }
        const float* row = dy + (oc * OH + 2 * i + r) * OW;
#if defined(__AVX512F__)
        for (int64_t k = 0; k < TW; k += 8) {  // 8 blocks' 16 values from one vector
          const __m512 v = _mm512_maskz_loadu_ps(first_lanes(OW - 2 * k), row + 2 * k);
          _mm512_mask_storeu_ps(b0 + k, 0xFF, _mm512_maskz_permutexvar_ps(0xFF, every_other8(0), v));
          _mm512_mask_storeu_ps(b0 + rs + k, 0xFF, _mm512_maskz_permutexvar_ps(0xFF, every_other8(1), v));
        }
#elif defined(__AVX2__)
        for (int64_t k = 0; k < TW; k += 8) {
          __m256 e, o;
          split16(load_first(row + 2 * k, OW - 2 * k), load_first(row + 2 * k + 8, OW - 2 * k - 8), e, o);
          _mm256_storeu_ps(b0 + k, e);
          _mm256_storeu_ps(b0 + rs + k, o);
        }
#else
        float* line = blk + 16 * rs;
        conv_detail::zero_row(line, 2 * t.half8());
        conv_detail::copy_row(row, line, OW);
        deinterleave(line, TW, b0, b0 + rs);
#endif
      }
    output_grad_rows(blk, rs, dM + oc * P + col0, slab(g.OC, P), t.count());
  }
}

// One sample's input gradient dx (C×H×W, overwritten) from columns [col0, col0 + tiles)
// of dV (16 × C × P): the tiles' 4×4 gradients added up where they overlap, first into
// the 8 planes (the transpose of the forward's reads), then from the planes onto dx.
void transform_input_grad(const float* dV, const ConvGeometry& g, const Tiles& t, int64_t P, int64_t col0,
                          float* dx, float* work) {
  const int64_t ps = t.plane(), rs = t.row(), TW = t.TW, n = t.count(), h8 = t.half8();
  float* d = work + 8 * ps;  // 16 rows: the tiles' input gradients
  float* line = d + 16 * rs;
  float* even = line + 2 * h8;
  float* odd = even + h8 + 8;
  for (int64_t k = TW + 1; k < h8; ++k) even[k] = odd[k] = 0.0f;
  for (int64_t c = 0; c < g.C; ++c) {
    input_grad_rows(dV + c * P + col0, slab(g.C, P), d, rs, n);
    for (int b = 0; b < 4; ++b)
      for (int e = 0; e < 2; ++e) {  // plane (b, e) gets a = e at offset 0 and a = e + 2 one row on
        float* __restrict dst = work + (2 * b + e) * ps;
        const float* __restrict lo = d + (4 * e + b) * rs;
        const float* __restrict hi = d + (4 * (e + 2) + b) * rs;
        for (int64_t p = 0; p < TW; ++p) dst[p] = lo[p];
        for (int64_t p = TW; p < n; ++p) dst[p] = lo[p] + hi[p - TW];
        for (int64_t p = n; p < n + TW; ++p) dst[p] = hi[p - TW];
      }
    // Bordered column 2m + b (b = 0, 1) is column b of tile m and b + 2 of tile m - 1.
    for (int64_t ih = 0; ih < g.H; ++ih) {
      const int64_t r = ih + g.pad;
      const float* p0 = work + (r % 2) * ps + (r / 2) * TW;  // plane (b, r % 2) is p0 + 2b planes
      float* out = dx + (c * g.H + ih) * g.W;
#if defined(__AVX512F__)
      if (g.pad == 0) {
        for (int64_t k = 0; k <= TW; k += 8) {  // lanes m = k..k+7: m < TW of tile m, 1 <= m <= TW of tile m - 1
          const __mmask16 cur = first_lanes(std::min<int64_t>(8, TW - k));
          const __mmask16 prev = first_lanes(std::min<int64_t>(8, TW + 1 - k)) & ~first_lanes(1 - k);
          const auto sum = [&](const float* tile, const float* before) {
            return _mm512_add_ps(_mm512_maskz_loadu_ps(cur, tile + k), _mm512_maskz_loadu_ps(prev, before + k - 1));
          };
          const __m512 e = sum(p0, p0 + 4 * ps), o = sum(p0 + 2 * ps, p0 + 6 * ps);
          _mm512_mask_storeu_ps(out + 2 * k, first_lanes(g.W - 2 * k), _mm512_permutex2var_ps(e, interleave8(), o));
        }
        continue;
      }
#elif defined(__AVX2__)
      if (g.pad == 0) {
        for (int64_t k = 0; k <= TW; k += 8) {  // lanes m = k..k+7: m < TW of tile m, 1 <= m <= TW of tile m - 1
          const __m256i prev = lanes_between(1 - k, TW + 1 - k);
          const __m256 e = _mm256_add_ps(load_first(p0 + k, TW - k), _mm256_maskload_ps(p0 + 4 * ps + k - 1, prev));
          const __m256 o = _mm256_add_ps(load_first(p0 + 2 * ps + k, TW - k), _mm256_maskload_ps(p0 + 6 * ps + k - 1, prev));
          __m256 first, second;
          merge16(e, o, first, second);
          store_first(out + 2 * k, first, g.W - 2 * k);
          store_first(out + 2 * k + 8, second, g.W - 2 * k - 8);
        }
        continue;
      }
#endif
      even[0] = p0[0];
      odd[0] = p0[2 * ps];
      for (int64_t m = 1; m < TW; ++m) {
        even[m] = p0[m] + p0[4 * ps + m - 1];
        odd[m] = p0[2 * ps + m] + p0[6 * ps + m - 1];
      }
      even[TW] = p0[4 * ps + TW - 1];
      odd[TW] = p0[6 * ps + TW - 1];
      interleave(even, odd, TW + 1, line);
      conv_detail::copy_row(line + g.pad, out, g.W);
    }
  }
}

int64_t chunks(int64_t N, int64_t chunk) { return (N + chunk - 1) / chunk; }

// Pooling in the output transform (AVX-512), a tile is a pooling window.
bool pools_in_transform(const ConvGeometry& g, Fuse fuse) {
#if defined(__AVX512F__)
  return fuse == Fuse::ReluMaxPool2 && tiles_of(g).count() <= kPooledMaxTiles;
#else
  (void)g, (void)fuse;
  return false;
#endif
}

// The forward's tiles: pooled in the transform, only the windows, so an odd last output
// row and column (which the pooling drops: keras-mnist's 11x11, 25 tiles of 36) are not
// computed.
Tiles forward_tiles(const ConvGeometry& g, Fuse fuse) {
  if (pools_in_transform(g, fuse) && g.OH() >= 2 && g.OW() >= 2) return {g.OH() / 2, g.OW() / 2};
  return tiles_of(g);
}

// Floats one thread works in, forward: V, one output channel block's products, the
// chunk's outputs before pooling (when pooled after the transform, not in it), and the
// bordered planes.
int64_t forward_per_thread(const ConvGeometry& g, Fuse fuse) {
  const Tiles t = forward_tiles(g, fuse);
  const int64_t per_chunk = chunk_of(t, kForwardTiles), Pp = padded_tiles(per_chunk * t.count());
  const bool pool_after = fuse == Fuse::ReluMaxPool2 && !pools_in_transform(g, fuse);
  return kXi * slab(g.C, Pp) + kXi * kOcBlock * Pp + (pool_after ? per_chunk * g.OC * g.L() : 0) + t.work();
}

// Backward: V, the output gradient dM, the input gradient's dV, one sample's output
// gradient with the fused layers undone, and the bordered planes.
int64_t backward_per_thread(const ConvGeometry& g) {
  const Tiles t = tiles_of(g);
  const int64_t P = chunk_of(t, kBackwardTiles) * t.count();
  return kXi * (slab(g.C, P) + slab(g.OC, P) + slab(g.C, P)) + g.OC * g.L() + t.work();
}

}  // namespace

bool winograd_fits(const ConvGeometry& g) {
  return g.KH == 3 && g.KW == 3 && g.stride == 1 && g.C >= 16 && g.OC >= 16 && g.OH() >= 1 && g.OW() >= 1;
}

bool winograd_applies(const ConvGeometry& g, int64_t N) {
  return winograd_fits(g) && N * tiles_of(g).count() >= kMinBatchTiles;
}

int64_t winograd_forward_scratch(const ConvGeometry& g, int threads, Fuse fuse) {
  return kXi * padded_oc(g.OC) * g.C + static_cast<int64_t>(threads) * forward_per_thread(g, fuse);
}

void winograd_forward(const float* x, const float* w, const float* b, const ConvGeometry& g, int64_t N,
                      float* scratch, float* y, Fuse fuse, int32_t* argmax) {
  const Tiles t = forward_tiles(g, fuse);
  const int64_t C = g.C, OC = g.OC, L = g.L(), OCp = padded_oc(OC), nt = t.count();
  const int64_t in_size = C * g.H * g.W, out_size = conv2d_output_size(g, fuse);
  // Fewer samples per chunk where kForwardTiles' worth would leave a thread without one: a
  // lone chunk's channel blocks shared out among the threads moved its transformed input
  // between the cores (keras-mnist's 4 images took 1.4x longer on 2 threads than on 1).
  // Each tile's products and transform do not depend on its chunk: the same bits.
  // And as many chunks for each thread: keras-mnist's 32 samples in chunks of 5 left one
  // thread 4 chunks and the other 3; in chunks of 4, 4 each.
  const int64_t samples_per_thread = std::max<int64_t>(1, chunks(N, omp_get_max_threads()));
  const int64_t per_chunk = chunks(samples_per_thread, chunks(samples_per_thread, chunk_of(t, kForwardTiles)));
  const int64_t n_chunks = chunks(N, per_chunk);
  const int64_t Pmax = padded_tiles(per_chunk * nt), thread_size = forward_per_thread(g, fuse);
  // Pooled in the output transform (AVX-512), or after it from each sample's full output.
  const bool pool_in_transform = pools_in_transform(g, fuse);
  const bool pool_after = fuse == Fuse::ReluMaxPool2 && !pool_in_transform;
#if defined(__AVX512F__)
  const Windows windows(g, t, pool_in_transform);
#endif
  float* U = scratch;  // 16 × OCp × C, in blocks of output channels
  float* threads_scratch = U + kXi * OCp * C;
  // A thread's pieces of scratch: V (at its start), one channel block's products,
  // pre-pooling outputs, planes.
  const auto M_of = [&](float* mine) { return mine + kXi * slab(C, Pmax); };
  const auto full_of = [&](float* mine) { return M_of(mine) + kXi * kOcBlock * Pmax; };
  const auto work_of = [&](float* mine) { return full_of(mine) + (pool_after ? per_chunk * OC * L : 0); };
  const auto count_of = [&](int64_t chunk) { return std::min(per_chunk, N - chunk * per_chunk); };
  // Sample s of a chunk: where its convolution goes (pooled after: into full first).
  const auto out_of = [&](int64_t chunk, int64_t s, float* full) {
    return pool_after ? full + s * OC * L : y + (chunk * per_chunk + s) * out_size;
  };
  const auto input_chunk = [&](int64_t chunk, float* V, float* work) {
    const int64_t n0 = chunk * per_chunk, count = count_of(chunk), P = count * nt, Pp = padded_tiles(P);
    for (int64_t s = 0; s < count; ++s) transform_input(x + (n0 + s) * in_size, g, t, Pp, s * nt, V, work);
    if (Pp > P)  // the padding tiles' products are never read, but must be numbers
      for (int64_t xi = 0; xi < kXi; ++xi)
        for (int64_t c = 0; c < C; ++c) std::fill_n(V + xi * slab(C, Pp) + c * Pp + P, Pp - P, 0.0f);
  };
  const auto channel_block = [&](int64_t chunk, int64_t ob, const float* V, float* M, float* full, float* work) {
    const int64_t count = count_of(chunk), Pp = padded_tiles(count * nt), n_oc = std::min(kOcBlock, OC - ob * kOcBlock);
    products(U + ob * kOcBlock * C, OCp * C, V, C, Pp, M);
    for (int64_t s = 0; s < count; ++s) {
#if defined(__AVX512F__)
      if (pool_in_transform) {
        const int64_t at = (chunk * per_chunk + s) * out_size + ob * kOcBlock * (out_size / OC);
        transform_output_pooled(M, kOcBlock * Pp, Pp, n_oc, g, t, windows, s * nt, b ? b + ob * kOcBlock : nullptr,
                                y + at, argmax ? argmax + at : nullptr);
        continue;
      }
#endif
      transform_output(M, kOcBlock * Pp, Pp, n_oc, g, t, s * nt, out_of(chunk, s, full) + ob * kOcBlock * L, work);
    }
  };
  const auto finish_sample = [&](int64_t chunk, int64_t s, float* full) {
    if (pool_in_transform) return;
    const int64_t n = chunk * per_chunk + s;
    conv_detail::bias_and_fused(b, g, fuse, out_of(chunk, s, full), y + n * out_size,
                                argmax ? argmax + n * out_size : nullptr);
  };
  if (n_chunks == 1) {  // one chunk: its channel blocks are shared out among the threads
    parallel_region(true, [&] {
      float* mine = threads_scratch + static_cast<int64_t>(omp_get_thread_num()) * thread_size;
      transform_filters(w, g, U, true);
#pragma omp single
      input_chunk(0, threads_scratch, work_of(mine));
#pragma omp for schedule(static)
      for (int64_t ob = 0; ob < OCp / kOcBlock; ++ob)
        channel_block(0, ob, threads_scratch, M_of(mine), full_of(threads_scratch), work_of(mine));
#pragma omp for schedule(static)
      for (int64_t s = 0; s < count_of(0); ++s) finish_sample(0, s, full_of(threads_scratch));
    });
    return;
  }
  parallel_region(true, [&] {
    float* mine = threads_scratch + static_cast<int64_t>(omp_get_thread_num()) * thread_size;
    transform_filters(w, g, U, true);
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
      input_chunk(chunk, mine, work_of(mine));
      for (int64_t ob = 0; ob < OCp / kOcBlock; ++ob)
        channel_block(chunk, ob, mine, M_of(mine), full_of(mine), work_of(mine));
      for (int64_t s = 0; s < count_of(chunk); ++s) finish_sample(chunk, s, full_of(mine));
    }
  });
}

int64_t winograd_backward_scratch(const ConvGeometry& g, int64_t N, int threads) {
  return chunks(N, chunk_of(tiles_of(g), kBackwardTiles)) * (kXi * g.OC * g.C + g.OC) + kXi * g.OC * g.C +
         static_cast<int64_t>(threads) * backward_per_thread(g);
}

void winograd_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                       float* scratch, float* dw, float* db, float* dx, Fuse fuse, const float* y,
                       const int32_t* argmax) {
  const Tiles t = tiles_of(g);
  const int64_t OC = g.OC, C = g.C, L = g.L(), nt = t.count(), OCC = OC * C;
  const int64_t in_size = C * g.H * g.W, out_size = conv2d_output_size(g, fuse);
  const int64_t per_chunk = chunk_of(t, kBackwardTiles), n_chunks = chunks(N, per_chunk);
  const int64_t thread_size = backward_per_thread(g);
  float* part_dU = scratch;                         // n_chunks × 16 × OC × C
  float* part_db = part_dU + n_chunks * kXi * OCC;  // n_chunks × OC
  float* U = part_db + n_chunks * OC;
  float* threads_scratch = U + kXi * OCC;
  parallel_region(true, [&] {
    float* mine = threads_scratch + static_cast<int64_t>(omp_get_thread_num()) * thread_size;
    if (dx) transform_filters(w, g, U);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t n0 = c * per_chunk, count = std::min(per_chunk, N - n0), P = count * nt;
      float* V = mine;
      float* dM = V + kXi * slab(C, P);
      float* dV = dM + kXi * slab(OC, P);
      float* unfused = dV + kXi * slab(C, P);
      float* work = unfused + OC * L;
      float* pdb = part_db + c * OC;
      for (int64_t s = 0; s < count; ++s) {
        const float* dyn = dy + (n0 + s) * out_size;
        if (fuse != Fuse::None) {
          fused_backward_planes(fuse, dyn, y + (n0 + s) * out_size, argmax ? argmax + (n0 + s) * out_size : nullptr,
                                OC, g.OH(), g.OW(), unfused);
          dyn = unfused;
        }
        if (dw || dx) transform_output_grad(dyn, g, t, P, s * nt, dM, work);
        if (db) conv_detail::add_bias_grad(dyn, OC, L, s == 0, pdb);
      }
      if (dw) {  // dU (OC×C) = dM (OC×P) · Vᵀ (P×C) for each of the 16
        for (int64_t s = 0; s < count; ++s) transform_input(x + (n0 + s) * in_size, g, t, P, s * nt, V, work);
        for (int64_t xi = 0; xi < kXi; ++xi)
          gemm(false, true, OC, C, P, 1.0f, dM + xi * slab(OC, P), P, V + xi * slab(C, P), P, 0.0f,
               part_dU + (c * kXi + xi) * OCC, C);
      }
      if (dx) {  // dV (C×P) = Uᵀ (C×OC) · dM (OC×P) for each of the 16
        for (int64_t xi = 0; xi < kXi; ++xi)
          gemm(true, false, C, P, OC, 1.0f, U + xi * OCC, C, dM + xi * slab(OC, P), P, 0.0f, dV + xi * slab(C, P),
               P);
        for (int64_t s = 0; s < count; ++s) transform_input_grad(dV, g, t, P, s * nt, dx + (n0 + s) * in_size, work);
      }
    }
    // Chunk partials summed in chunk order (into the first chunk's), then one transform.
    if (dw) {
      // In blocks across the elements, so that the additions run in vector lanes.
      constexpr int64_t kBlock = 512;
#pragma omp for schedule(static)
      for (int64_t i0 = 0; i0 < kXi * OCC; i0 += kBlock) {
        const int64_t n = std::min(kBlock, kXi * OCC - i0);
        float* __restrict sum = part_dU + i0;
        for (int64_t c = 1; c < n_chunks; ++c) {
          const float* __restrict part = part_dU + c * kXi * OCC + i0;
          for (int64_t i = 0; i < n; ++i) sum[i] += part[i];
        }
      }
#pragma omp single
      filter_gradient(part_dU, g, dw);
    }
    if (db) {
#pragma omp single
      conv_detail::add_chunk_partials(part_db, n_chunks, OC, db);
    }
  });
}

}  // namespace mnistcnn::kernels
