#include "mnistcnn/kernels/fuse.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>

namespace mnistcnn::kernels {

namespace {

// One window's gradient: 0 + dy at its argmax if the ReLU passed its maximum, else 0
// (the + 0 turns −0 into +0, as maxpool_backward's accumulation into zeros does). A
// select, not a branch: the sign of y is a coin toss to the branch predictor.
inline float window_grad(float dy, float y) { return y > 0.0f ? 0.0f + dy : 0.0f; }

// Max pooling puts the window's gradient at its argmax (windows do not overlap) and zero
// elsewhere. Each pair of input rows is written whole, once: every position gets either
// its window's gradient or zero. (Zeroing the plane and then scattering the gradients
// cost two passes and a store per window into lines just written.)
void relu_maxpool2_backward_plane(const float* dy, const float* y, const int32_t* argmax, int64_t H, int64_t W,
                                  float* d) {
  const int64_t PH = H / 2, PW = W / 2;
  for (int64_t pr = 0; pr < PH; ++pr) {
    float* r0 = d + 2 * pr * W;
    float* r1 = r0 + W;
    const float* dyr = dy + pr * PW;
    const float* yr = y + pr * PW;
    const int32_t* ar = argmax + pr * PW;
    int64_t pc = 0;
#if defined(__AVX512F__)
    // Eight windows at a time, the last group masked (keras-mnist's rows of 5 windows take
    // one step): as the AVX2 loop below, in 16 lanes. (Permutes with an all-ones mask: the
    // unmasked ones make GCC 12 warn of an uninitialised value, its bug 105593.)
    const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; pc < PW; pc += 8) {
      const int64_t n = std::min<int64_t>(8, PW - pc);
      const auto in = static_cast<__mmask16>((1u << n) - 1), out = static_cast<__mmask16>((1u << (2 * n)) - 1);
      const __m512 dy8 = _mm512_add_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(in, dyr + pc));
      const __mmask16 passed = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(in, yr + pc), _mm512_setzero_ps(), _CMP_GT_OQ);
      const __m512 g = _mm512_maskz_permutexvar_ps(0xFFFF, pairs, _mm512_maskz_mov_ps(passed, dy8));
      const __m512i a = _mm512_maskz_permutexvar_epi32(0xFFFF, pairs, _mm512_maskz_loadu_epi32(in, ar + pc));
      const __m512i i0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * pr * W + 2 * pc)), lane);
      const __m512i i1 = _mm512_add_epi32(i0, _mm512_set1_epi32(static_cast<int32_t>(W)));
      _mm512_mask_storeu_ps(r0 + 2 * pc, out, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, i0), g));
      _mm512_mask_storeu_ps(r1 + 2 * pc, out, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, i1), g));
    }
#elif defined(__AVX2__)
    // Four windows: their gradients and argmaxes, each twice ([g0 g0 g1 g1 g2 g2 g3 g3]),
    // against the indices of the 8 positions they cover in each row.
    const __m256i pairs = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 zero = _mm256_setzero_ps();
    for (; pc + 4 <= PW; pc += 4) {
      const __m128 g4 = _mm_blendv_ps(_mm_setzero_ps(), _mm_add_ps(_mm_setzero_ps(), _mm_loadu_ps(dyr + pc)),
                                      _mm_cmpgt_ps(_mm_loadu_ps(yr + pc), _mm_setzero_ps()));
      const __m256 g = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(g4), pairs);
      const __m256i a = _mm256_permutevar8x32_epi32(
          _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ar + pc))), pairs);
      const __m256i i0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(2 * pr * W + 2 * pc)), lane);
      const __m256i i1 = _mm256_add_epi32(i0, _mm256_set1_epi32(static_cast<int32_t>(W)));
      _mm256_storeu_ps(r0 + 2 * pc, _mm256_blendv_ps(zero, g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, i0))));
      _mm256_storeu_ps(r1 + 2 * pc, _mm256_blendv_ps(zero, g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, i1))));
    }
#endif
    for (; pc < PW; ++pc) {
      const float g = window_grad(dyr[pc], yr[pc]);
      const int64_t base = 2 * pr * W + 2 * pc;
      r0[2 * pc] = ar[pc] == base ? g : 0.0f;
      r0[2 * pc + 1] = ar[pc] == base + 1 ? g : 0.0f;
      r1[2 * pc] = ar[pc] == base + W ? g : 0.0f;
      r1[2 * pc + 1] = ar[pc] == base + W + 1 ? g : 0.0f;
    }
    if (W % 2) r0[W - 1] = r1[W - 1] = 0.0f;  // an odd last column is in no window
  }
  if (H % 2) std::memset(d + (H - 1) * W, 0, sizeof(float) * static_cast<size_t>(W));  // nor an odd last row
}

}  // namespace

void fused_backward_planes(Fuse fuse, const float* dy, const float* y, const int32_t* argmax, int64_t P,
                           int64_t H, int64_t W, float* d) {
  const int64_t plane = H * W;
  if (fuse == Fuse::Relu) {
    for (int64_t i = 0; i < P * plane; ++i) {
      const float v = dy[i];  // read either way: a plain select vectorises, a guarded read does not
      d[i] = y[i] > 0.0f ? v : 0.0f;
    }
    return;
  }
  const int64_t pooled = fused_plane_size(fuse, H, W);
  for (int64_t p = 0; p < P; ++p)
    relu_maxpool2_backward_plane(dy + p * pooled, y + p * pooled, argmax + p * pooled, H, W, d + p * plane);
}

}  // namespace mnistcnn::kernels
