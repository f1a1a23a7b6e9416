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

// oneDNN builds all of its sgemm kernels on the first product, whatever its shape (about
// 40 ms on the project's machines, a sixth of evaluating the test set once): a program
// can have that done early, e.g. on another thread while it reads its data. Later calls
// return at once; concurrent products wait for the same build (oneDNN's call_once).
void prepare_gemm();

void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc);

}  // namespace mnistcnn::kernels
