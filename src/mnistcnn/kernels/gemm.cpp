#include "mnistcnn/kernels/gemm.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::kernels {

namespace {

void throw_if_failed(dnnl_status_t st, int64_t M, int64_t N, int64_t K) {
  if (st != dnnl_success)
    throw Error("gemm: dnnl_sgemm failed with status " + std::to_string(static_cast<int>(st)) +
                " for M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  throw_if_failed(dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc),
                  M, N, K);
}

// How a product outside a parallel region is cut into blocks of C: a function of the
// shape alone. Two blocks from 1 MFLOP (lenet's dense layers, 1.3 and 6.1 MFLOP, 1.4-1.9x
// faster on two threads than one call; five blocks had left a thread idle for one of five,
// and smaller calls run dnnl's kernels slower), more in powers of two from 32 MFLOP, each
// block at least 16 rows or columns. Blocks of columns when B is transposed (x·Wᵀ: each
// block reads its own rows of W; 1.2-1.5x faster than blocks of rows at 4 blocks), else of
// rows (lenet's dW and dx 1.1-1.2x faster than columns), unless that side is too short.
// Times of every shape in docs/BENCHMARKS.md (2026-12-03, second stop).
struct Blocks {
  int64_t parts;
  bool rows;
};
Blocks gemm_blocks(bool trans_b, int64_t M, int64_t N, int64_t K) {
  constexpr int64_t kMinFlops = 1 << 20, kFlopsPerPart = 8 << 20, kMinRowsPerPart = 16, kMaxParts = 16;
  const int64_t flops = 2 * M * N * K;
  const bool rows_fit = M >= 2 * kMinRowsPerPart, columns_fit = N >= 2 * kMinRowsPerPart;
  if (flops < kMinFlops || (!rows_fit && !columns_fit)) return {1, true};
  const bool rows = trans_b ? !columns_fit : rows_fit;
  const auto pow2_floor = [](int64_t v) { return int64_t{1} << (63 - __builtin_clzll(static_cast<uint64_t>(v))); };
  const int64_t by_work = pow2_floor(std::clamp<int64_t>(flops / kFlopsPerPart, 2, kMaxParts));
  const int64_t by_size = pow2_floor((rows ? M : N) / kMinRowsPerPart);
  return {std::min(by_work, by_size), rows};
}

}  // namespace

// dnnl_sgemm with several threads may split the reduction (K) between them (seen on AVX2
// for thin products such as a dense layer's forward), so its bits would depend on the
// thread count. Inside a parallel region of any size, or a parallel_region body run
// without one (kernels/parallel.h), it is one call on one thread. Outside, the product is
// cut into blocks of C chosen by its shape alone, each one single-threaded dnnl_sgemm,
// and only the blocks are shared between threads: any thread count gives the same bits.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (in_region_body()) {  // one call on one thread, wherever the body runs
    const ThreadCountScope one(1);
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const Blocks cut = gemm_blocks(trans_b, M, N, K);
  if (cut.parts == 1) {
    const ThreadCountScope one(1);
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool split_rows = cut.rows;
  const int64_t extent = split_rows ? M : N, step = (extent + cut.parts - 1) / cut.parts;
  const int64_t blocks = (extent + step - 1) / step;
  // A block's failure is kept for after the region (no exception may leave it); an atomic,
  // not a reduction: clang rejects reducing a variable the body captures.
  std::atomic<dnnl_status_t> failure{dnnl_success};
  parallel_region(true, [&] {
#pragma omp for schedule(static)
    for (int64_t p = 0; p < blocks; ++p) {
      const int64_t lo = p * step, n = std::min(step, extent - lo);
      const float* a = A;
      const float* b = B;
      float* c = C;
      if (split_rows) {
        a += trans_a ? lo : lo * lda;
        c += lo * ldc;
      } else {
        b += trans_b ? lo * ldb : lo;
        c += lo;
      }
      const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', split_rows ? n : M,
                                          split_rows ? N : n, K, alpha, a, lda, b, ldb, beta, c, ldc);
      if (st != dnnl_success) failure.store(st, std::memory_order_relaxed);
    }
  });
  throw_if_failed(failure.load(), M, N, K);
}

void prepare_gemm() {
  static std::once_flag once;
  std::call_once(once, [] {
    const ThreadCountScope one(1);
    const float a[8 * 8] = {}, b[8 * 8] = {};
    float c[8 * 8];
    sgemm(false, false, 8, 8, 8, 1.0f, a, 8, b, 8, 0.0f, c, 8);  // 1x1x1 skips the kernels
  });
}

void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        float a = trans_a ? A[k * lda + i] : A[i * lda + k];
        float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += static_cast<double>(a) * b;
      }
      float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
      C[i * ldc + j] = alpha * static_cast<float>(acc) + prev;
    }
  }
}

}  // namespace mnistcnn::kernels
