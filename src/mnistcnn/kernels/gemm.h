// Matrix products. Row-major, C = alpha * op(A) * op(B) + beta * C, with op(A) M×K,
// op(B) K×N, C M×N; lda/ldb/ldc are row strides of the stored (untransposed) matrices.
// gemm() goes to oneDNN's dnnl_sgemm (the only file that includes <dnnl.h>); gemm_ref()
// is the plain triple loop kept as the specification and for tests.
#pragma once
#include <cstdint>

namespace mnistcnn::kernels {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc);

void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc);

}  // namespace mnistcnn::kernels
