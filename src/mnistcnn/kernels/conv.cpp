#include "mnistcnn/kernels/conv.h"

#include <omp.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>
#include <vector>

#include "mnistcnn/kernels/conv_detail.h"
#include "mnistcnn/kernels/conv_direct.h"
#include "mnistcnn/kernels/conv_pooled.h"
#include "mnistcnn/kernels/conv_strided.h"
#include "mnistcnn/kernels/conv_winograd.h"
#include "mnistcnn/kernels/gemm.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/kernels/pool.h"

namespace mnistcnn::kernels {

namespace {

using conv_detail::copy_row;
using conv_detail::zero_row;

// Stride 1 without padding (padding goes through a zero-bordered copy, below): every
// column row is OH whole input row pieces, copied with no bounds to check. The general
// loop spent most of its time on divisions and spilled registers around rows of a dozen
// floats. One input channel's KH·KW rows at a time (a lone sample's channels are shared
// out among the threads: forward_sample).
void im2col_unpadded_channel(const float* x, const ConvGeometry& g, int64_t c, float* col, int64_t ld) {
  const int64_t OH = g.OH(), OW = g.OW();
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
      const float* src = x + (c * g.H + kh) * g.W + kw;
      for (int64_t oh = 0; oh < OH; ++oh) copy_row(src + oh * g.W, row + oh * OW, OW);
    }
}

void im2col_unpadded(const float* x, const ConvGeometry& g, float* col, int64_t ld) {
  for (int64_t c = 0; c < g.C; ++c) im2col_unpadded_channel(x, g, c, col, ld);
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
  xb.resize(static_cast<size_t>(b.C * b.H * b.W));
  conv_detail::bordered_copy(x, g, xb.data());
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

// A strided convolution first splits each input row into its S phases
// (columns j, j+S, j+2S, ...), so that every row of the columns is a contiguous copy of
// a phase row, not a gather (which took a quarter of inference time for the stride-2 5x5
// convolutions); col2im adds each row of the columns onto a phase row the same way.
struct Phases {
  int64_t S, PW;  // stride, width of one phase row
  // A thread's buffer of H·S phase rows, with a vector of slack for whole-vector reads.
  float* rows(const ConvGeometry& g) {
    thread_local std::vector<float> buffer;
    buffer.resize(static_cast<size_t>(g.H * S * PW + 8));
    return buffer.data();
  }
};

Phases phases_of(const ConvGeometry& g) { return {g.stride, (g.W + g.stride - 1) / g.stride}; }

// For kernel column kw: output columns [lo, hi) read input columns inside the image, input
// column ow·S + kw - pad = (ow + shift)·S + phase.
struct PhaseRun {
  int64_t lo, hi, phase, shift;
};

PhaseRun phase_run(const ConvGeometry& g, int64_t kw) {
  const int64_t S = g.stride, OW = g.OW(), first = kw - g.pad;
  int64_t lo = first >= 0 ? 0 : (-first + S - 1) / S;
  int64_t hi = g.W - first <= 0 ? 0 : (g.W - first + S - 1) / S;
  lo = std::min(lo, OW);
  hi = std::clamp(hi, lo, OW);
  const int64_t phase = ((first % S) + S) % S;
  return {lo, hi, phase, (first - phase) / S};
}

// rows[(ih·S + p)·PW + j] = xc[ih][j·S + p] (zero past the row's end).
void split_phases(const float* xc, const ConvGeometry& g, const Phases& ph, float* rows) {
  const int64_t S = ph.S, PW = ph.PW;
  for (int64_t ih = 0; ih < g.H; ++ih) {
    const float* x = xc + ih * g.W;
#if defined(__AVX2__)
    if (S == 2) {
      float* even = rows + 2 * ih * PW;
      for (int64_t j = 0; j < PW; j += 8) {
        __m256 e, o;
        conv_detail::split16(conv_detail::load_first(x + 2 * j, g.W - 2 * j),
                             conv_detail::load_first(x + 2 * j + 8, g.W - 2 * j - 8), e, o);
        conv_detail::store_first(even + j, e, PW - j);
        conv_detail::store_first(even + PW + j, o, PW - j);
      }
      continue;
    }
#endif
    for (int64_t p = 0; p < S; ++p) {
      float* dst = rows + (ih * S + p) * PW;
      int64_t j = 0;
      for (; j * S + p < g.W; ++j) dst[j] = x[j * S + p];
      for (; j < PW; ++j) dst[j] = 0.0f;
    }
  }
}

// xc[ih][j·S + p] = rows[(ih·S + p)·PW + j]: the inverse of split_phases.
void merge_phases(const float* rows, const ConvGeometry& g, const Phases& ph, float* xc) {
  const int64_t S = ph.S, PW = ph.PW;
  for (int64_t ih = 0; ih < g.H; ++ih) {
    float* x = xc + ih * g.W;
#if defined(__AVX2__)
    if (S == 2) {
      const float* even = rows + 2 * ih * PW;
      for (int64_t j = 0; j < PW; j += 8) {
        __m256 first, second;
        conv_detail::merge16(_mm256_loadu_ps(even + j), _mm256_loadu_ps(even + PW + j), first, second);
        conv_detail::store_first(x + 2 * j, first, g.W - 2 * j);
        conv_detail::store_first(x + 2 * j + 8, second, g.W - 2 * j - 8);
      }
      continue;
    }
#endif
    for (int64_t p = 0; p < S; ++p) {
      const float* src = rows + (ih * S + p) * PW;
      for (int64_t j = 0; j * S + p < g.W; ++j) x[j * S + p] = src[j];
    }
  }
}

// Output rows whose input row oh·S - pad + kh lies inside the image: [lo, hi).
std::pair<int64_t, int64_t> inside_rows(const ConvGeometry& g, int64_t kh) {
  const int64_t S = g.stride, OH = g.OH(), first = kh - g.pad;
  const int64_t lo = std::min(OH, first >= 0 ? 0 : (-first + S - 1) / S);
  const int64_t hi = std::clamp(g.H - first <= 0 ? 0 : (g.H - first + S - 1) / S, lo, OH);
  return {lo, hi};
}

// phase_run for every kernel column, computed once per call (the divisions cost more
// than a short row's copy).
const PhaseRun* phase_runs(const ConvGeometry& g) {
  thread_local std::vector<PhaseRun> runs;
  runs.resize(static_cast<size_t>(g.KW));
  for (int64_t kw = 0; kw < g.KW; ++kw) runs[static_cast<size_t>(kw)] = phase_run(g, kw);
  return runs.data();
}

}  // namespace

void im2col(const float* x, const ConvGeometry& g, float* col, int64_t ld) {
  if (g.stride == 1) return im2col_stride1(x, g, col, ld);
  const int64_t OH = g.OH(), OW = g.OW(), S = g.stride;
  Phases ph = phases_of(g);
  float* rows = ph.rows(g);
  const PhaseRun* runs = phase_runs(g);
  for (int64_t c = 0; c < g.C; ++c) {
    split_phases(x + c * g.H * g.W, g, ph, rows);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const auto [oh_lo, oh_hi] = inside_rows(g, kh);
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        const PhaseRun& run = runs[kw];
        zero_row(row, oh_lo * OW);
        zero_row(row + oh_hi * OW, (OH - oh_hi) * OW);
        if (oh_lo == oh_hi) continue;
        // input row ih = oh·S - pad + kh, its phase row ih·S + run.phase
        const float* src = rows + ((oh_lo * S - g.pad + kh) * S + run.phase) * ph.PW + run.shift;
        const int64_t step = S * S * ph.PW;
        if (run.lo == 0 && run.hi == OW) {
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh, src += step) copy_row(src, row + oh * OW, OW);
          continue;
        }
        for (int64_t oh = oh_lo; oh < oh_hi; ++oh, src += step) {
          float* out = row + oh * OW;
          for (int64_t ow = 0; ow < run.lo; ++ow) out[ow] = 0.0f;
          copy_row(src + run.lo, out + run.lo, run.hi - run.lo);
          for (int64_t ow = run.hi; ow < OW; ++ow) out[ow] = 0.0f;
        }
      }
    }
  }
}

// Each input element gets its terms in (kh, kw, oh) order, as a direct scatter would.
void col2im(const float* col, int64_t ld, const ConvGeometry& g, float* dx) {
  if (g.stride == 1) return col2im_stride1(col, ld, g, dx);
  const int64_t OW = g.OW(), S = g.stride;
  Phases ph = phases_of(g);
  float* rows = ph.rows(g);
  const PhaseRun* runs = phase_runs(g);
  for (int64_t c = 0; c < g.C; ++c) {
    std::fill_n(rows, g.H * S * ph.PW, 0.0f);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const auto [oh_lo, oh_hi] = inside_rows(g, kh);
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        const PhaseRun& run = runs[kw];
        for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
          const int64_t ih = oh * S - g.pad + kh;
          float* __restrict dst = rows + (ih * S + run.phase) * ph.PW + run.shift;
          const float* __restrict src = row + oh * OW;
          for (int64_t ow = run.lo; ow < run.hi; ++ow) dst[ow] += src[ow];
        }
      }
    }
    merge_phases(rows, g, ph, dx + c * g.H * g.W);
  }
}

namespace conv_detail {

float lane_sum(const float* p, int64_t n) {
  // (One vector of 8 sums was bound by the addition's latency: an eighth of a first
  // layer's backward on Zen 5.)
  float lane[32] = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 32; ++j) lane[j] += p[i + j];
  for (int j = 0; i < n; ++i, ++j) lane[j] += p[i];
  for (int w = 16; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) lane[j] += lane[j + w];
  return lane[0];
}

void add_bias_grad(const float* dy, int64_t OC, int64_t L, bool first, float* pdb) {
  for (int64_t oc = 0; oc < OC; ++oc) {
    const float s = lane_sum(dy + oc * L, L);
    pdb[oc] = first ? s : pdb[oc] + s;
  }
}

void bordered_copy(const float* x, const ConvGeometry& g, float* dst) {
  const int64_t Hb = g.H + 2 * g.pad, Wb = g.W + 2 * g.pad;
  std::fill_n(dst, g.C * Hb * Wb, 0.0f);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < g.H; ++ih)
      std::copy_n(x + (c * g.H + ih) * g.W, g.W, dst + (c * Hb + ih + g.pad) * Wb + g.pad);
}

void bias_and_fused(const float* b, const ConvGeometry& g, Fuse fuse, float* out, float* y, int32_t* argmax) {
  const int64_t L = g.L();
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
  if (fuse == Fuse::ReluMaxPool2) maxpool2x2_planes(out, g.OC, g.OH(), g.OW(), y, argmax);
}

}  // namespace conv_detail

namespace {

using conv_detail::kChunk;

int64_t chunks(int64_t N) { return (N + kChunk - 1) / kChunk; }

// One sample: columns, product, then bias and the fused layers while the output is in
// cache. full: OC×L scratch for the pooled case. With `alone` (a batch of one, called
// outside a parallel region), the threads share out large columns (64 KB or more) by
// input channel where they need no bordered copy: a copy, so the same bits. For one
// keras-mnist image (136 KB of columns) they were a fifth of its inference on one thread
// while the other waited; lenet's 26 KB took longer shared (the parallel region's cost).
void forward_sample(const float* x, const float* w, const float* b, const ConvGeometry& g, Fuse fuse,
                    float* col, float* full, float* y, int32_t* argmax, bool alone = false,
                    const float* packed = nullptr) {
  const int64_t L = g.L(), K = g.K();
  // Pooled output straight from the direct kernel's registers: the full output
  // (keras-mnist's first layer: 86 KB a sample) is neither written nor read back.
  if (fuse == Fuse::ReluMaxPool2 && direct_conv_pooled_forward(x, w, b, g, y, argmax, packed)) return;
  float* out = fuse == Fuse::ReluMaxPool2 ? full : y;
  if (!direct_conv_forward(x, w, g, out)) {
    if (alone && g.stride == 1 && g.pad == 0 && K * L >= 16384) {
      parallel_region(true, [&] {
#pragma omp for schedule(static)
        for (int64_t c = 0; c < g.C; ++c) im2col_unpadded_channel(x, g, c, col, L);
      });
    } else {
      im2col(x, g, col, L);
    }
    gemm(false, false, g.OC, L, K, 1.0f, w, K, col, L, 0.0f, out, L);
  }
  conv_detail::bias_and_fused(b, g, fuse, out, y, argmax);
}

std::atomic<ConvAlgorithm> algorithm{ConvAlgorithm::Auto};

bool winograd(const ConvGeometry& g, int64_t N) {
  return algorithm.load(std::memory_order_relaxed) != ConvAlgorithm::Columns && winograd_applies(g, N);
}

bool strided(const ConvGeometry& g) {
  return algorithm.load(std::memory_order_relaxed) != ConvAlgorithm::Columns && strided_conv_applies(g);
}

bool pooled(const ConvGeometry& g, Fuse fuse) {
  return fuse == Fuse::ReluMaxPool2 && algorithm.load(std::memory_order_relaxed) != ConvAlgorithm::Columns &&
         pooled_backward_applies(g);
}

bool pooled_split(const ConvGeometry& g, Fuse fuse) {
  return fuse == Fuse::ReluMaxPool2 && algorithm.load(std::memory_order_relaxed) != ConvAlgorithm::Columns &&
         pooled_split_backward_applies(g);
}

}  // namespace

void set_conv_algorithm(ConvAlgorithm a) { algorithm.store(a, std::memory_order_relaxed); }
ConvAlgorithm conv_algorithm() { return algorithm.load(std::memory_order_relaxed); }

int64_t conv2d_output_size(const ConvGeometry& g, Fuse fuse) { return g.OC * fused_plane_size(fuse, g.OH(), g.OW()); }

namespace {
// One thread's columns (and full-size output when pooled) on the column path.
int64_t columns_per_thread(const ConvGeometry& g, Fuse fuse) {
  return g.K() * g.L() + (fuse == Fuse::ReluMaxPool2 ? g.OC * g.L() : 0);
}
}  // namespace

int64_t conv2d_forward_scratch(const ConvGeometry& g, int threads, Fuse fuse) {
  const int64_t columns = static_cast<int64_t>(threads) * columns_per_thread(g, fuse);
  // The batch decides between Winograd and columns (winograd_applies): room for either.
  const ConvAlgorithm a = conv_algorithm();
  if (winograd_fits(g) && a != ConvAlgorithm::Columns)
    return std::max(columns, winograd_forward_scratch(g, threads, fuse));
  // Packed weights, and each thread's full-size output when pooled.
  if (strided(g))
    return strided_packed_size(g) + (fuse == Fuse::ReluMaxPool2 ? static_cast<int64_t>(threads) * g.OC * g.L() : 0);
  return columns;
}

void conv2d_forward(const float* x, const float* w, const float* b, const ConvGeometry& g,
                    int64_t N, float* scratch, float* y, Fuse fuse, int32_t* argmax) {
  if (winograd(g, N)) return winograd_forward(x, w, b, g, N, scratch, y, fuse, argmax);
  const int64_t in_size = g.C * g.H * g.W, out_size = conv2d_output_size(g, fuse);
  if (strided(g)) {
    float* full_base = scratch + strided_packed_size(g);
    parallel_region(true, [&] {
      float* full = full_base + static_cast<int64_t>(omp_get_thread_num()) * g.OC * g.L();
      strided_pack_forward(w, g, scratch);
#pragma omp for schedule(static)
      for (int64_t n = 0; n < N; ++n) {
        float* yn = y + n * out_size;
        float* out = fuse == Fuse::ReluMaxPool2 ? full : yn;
        strided_forward(x + n * in_size, scratch, g, out);
        conv_detail::bias_and_fused(b, g, fuse, out, yn, argmax ? argmax + n * out_size : nullptr);
      }
    });
    return;
  }
  // Not conv2d_forward_scratch(g, 1): for a geometry Winograd fits, that is Winograd's size.
  const int64_t per_thread = columns_per_thread(g, fuse);
  if (N == 1) {
    // One sample: let its gemm share out the threads (decided by N, not the thread count,
    // so that every thread count computes the same products).
    forward_sample(x, w, b, g, fuse, scratch, scratch + g.K() * g.L(), y, argmax, true);
    return;
  }
  parallel_region(true, [&] {
    // One sample's columns at a time per thread: they stay in cache for the gemm. Where
    // the pooled direct kernel keeps output channels in lanes, the columns' room holds
    // the thread's packed weights instead (K×OC, OC <= L).
    float* col = scratch + static_cast<int64_t>(omp_get_thread_num()) * per_thread;
    const bool packed = fuse == Fuse::ReluMaxPool2 && direct_conv_pack_weights(w, g, col);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n)
      forward_sample(x + n * in_size, w, b, g, fuse, col, col + g.K() * g.L(), y + n * out_size,
                     argmax ? argmax + n * out_size : nullptr, false, packed ? col : nullptr);
  });
}

namespace {

// The strided kernels' backward (kernels/conv_strided.h) in two passes. Samples in
// parallel: the output gradient (the fused layers undone, in the thread's buffer: the
// layout below keeps its own copy), the bias gradient's chunk partials, dx, and each
// sample's weight-gradient layout. Then slices of the weight gradient in parallel, each
// summing over every sample in order: no per-chunk partials of dw to write and add up (a
// 64-channel 5x5 layer's are 400 KB a chunk), and the same bits for any thread count.
int64_t strided_backward_scratch(const ConvGeometry& g, int64_t N, int threads) {
  return chunks(N) * g.OC + strided_packed_size(g) + static_cast<int64_t>(threads) * g.OC * g.L() +
         N * strided_weight_grad_layout_size(g);
}

void strided_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                      float* scratch, float* dw, float* db, float* dx, Fuse fuse, const float* y,
                      const int32_t* argmax) {
  const int64_t L = g.L(), OC = g.OC, in_size = g.C * g.H * g.W, out_size = conv2d_output_size(g, fuse);
  const int64_t n_chunks = chunks(N), layout_size = strided_weight_grad_layout_size(g);
  float* part_db = scratch;                          // n_chunks × OC
  float* packed = part_db + n_chunks * OC;            // weights packed for dx
  float* layouts = packed + strided_packed_size(g);   // N × layout_size
  float* unfused_base = layouts + N * layout_size;    // threads × OC×L, when fused
  parallel_region(true, [&] {
    float* unfused = unfused_base + static_cast<int64_t>(omp_get_thread_num()) * OC * L;
    if (dx) strided_pack_input_grad(w, g, packed);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < n_chunks; ++c)
      for (int64_t n = c * kChunk; n < std::min(N, (c + 1) * kChunk); ++n) {
        const float* dyn = dy + n * out_size;
        if (fuse != Fuse::None) {
          fused_backward_planes(fuse, dyn, y + n * out_size, argmax ? argmax + n * out_size : nullptr, OC, g.OH(),
                                g.OW(), unfused);
          dyn = unfused;
        }
        if (db) conv_detail::add_bias_grad(dyn, OC, L, n == c * kChunk, part_db + c * OC);
        if (dx) strided_input_grad(dyn, packed, g, dx + n * in_size);
        if (dw) strided_weight_grad_layout(dyn, x + n * in_size, g, layouts + n * layout_size);
      }
    if (dw) {
#pragma omp for schedule(static)
      for (int64_t item = 0; item < strided_weight_grad_items(g); ++item)
        strided_weight_grad_item(layouts, N, g, item, dw);
    }
    if (db) {
#pragma omp single
      conv_detail::add_chunk_partials(part_db, n_chunks, OC, db);
    }
  });
}

}  // namespace

int64_t conv2d_backward_scratch(const ConvGeometry& g, int64_t N, int threads, Fuse fuse) {
  if (pooled(g, fuse)) return pooled_backward_scratch(g, N, threads);
  if (winograd(g, N)) return winograd_backward_scratch(g, N, threads);
  if (strided(g)) return strided_backward_scratch(g, N, threads);
  // The split kernel takes no input gradient: room for the columns' backward as well.
  const int64_t columns =
      chunks(N) * (g.OC * g.K() + g.OC) + static_cast<int64_t>(threads) * (2 * g.K() * g.L() + g.OC * g.L());
  return pooled_split(g, fuse) ? std::max(columns, pooled_split_backward_scratch(g, N, threads)) : columns;
}

void conv2d_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                     float* scratch, float* dw, float* db, float* dx, Fuse fuse, const float* y,
                     const int32_t* argmax) {
  if (pooled(g, fuse) && argmax) return pooled_backward(dy, x, w, g, N, scratch, dw, db, dx, y, argmax);
  if (pooled_split(g, fuse) && argmax && !dx) return pooled_split_backward(dy, x, g, N, scratch, dw, db, y, argmax);
  if (winograd(g, N)) return winograd_backward(dy, x, w, g, N, scratch, dw, db, dx, fuse, y, argmax);
  if (strided(g)) return strided_backward(dy, x, w, g, N, scratch, dw, db, dx, fuse, y, argmax);
  const int64_t L = g.L(), K = g.K(), OC = g.OC, in_size = g.C * g.H * g.W, out_size = conv2d_output_size(g, fuse);
  const int64_t n_chunks = chunks(N);
  float* part_dw = scratch;                     // n_chunks × OC×K
  float* part_db = part_dw + n_chunks * OC * K;  // n_chunks × OC
  float* per_thread = part_db + n_chunks * OC;  // threads × (K×L columns, their gradient, OC×L output gradient)
  parallel_region(true, [&] {
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
        if (db) conv_detail::add_bias_grad(dyn, OC, L, n == c * kChunk, pdb);
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
      conv_detail::add_chunk_partials(part_db, n_chunks, OC, db);
    }
  });
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
