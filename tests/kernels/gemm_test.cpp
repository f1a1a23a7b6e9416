// gemm (oneDNN) against the plain reference on odd shapes, every transpose, alpha/beta
// and padded leading dimensions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mnistcnn/core/rng.h"
#include "mnistcnn/kernels/gemm.h"
#include "mnistcnn/kernels/parallel.h"
#include "support/error_of.h"
#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

std::vector<float> random_vec(size_t n, uint64_t seed) {
  Rng rng(seed, 0);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(-1, 1);
  return v;
}

TEST(Gemm, MatchesReferenceOnOddShapes) {
  // From {64, 121, 288} on, cut into blocks (2 or more, of rows or columns); then lenet's
  // dense layers (forward, weight and input gradients of the first, forward of the second).
  const int64_t dims[][3] = {{1, 1, 1},       {3, 7, 9},       {15, 1, 33},     {32, 676, 9},     {7, 130, 17},
                              {64, 121, 288},  {256, 10, 1600}, {10, 1600, 256}, {301, 37, 513},   {64, 120, 400},
                              {120, 400, 64},  {64, 400, 120},  {64, 84, 120},   {64, 3136, 128}};
  for (const auto& d : dims)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const int64_t M = d[0], N = d[1], K = d[2];
        const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
        const auto A = random_vec(static_cast<size_t>((ta ? K : M) * lda), 1);
        const auto B = random_vec(static_cast<size_t>((tb ? N : K) * ldb), 2);
        auto C = random_vec(static_cast<size_t>(M * ldc), 3), C_ref = C;
        kernels::gemm(ta, tb, M, N, K, 0.75f, A.data(), lda, B.data(), ldb, 0.5f, C.data(), ldc);
        kernels::gemm_ref(ta, tb, M, N, K, 0.75f, A.data(), lda, B.data(), ldb, 0.5f, C_ref.data(), ldc);
        int64_t where = -1;
        EXPECT_LE(testing::worst_mismatch(C.data(), C_ref.data(), M * ldc, 1e-5, 1e-5, &where), 1.0)
            << "M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb << " at " << where;
      }
}

// dnnl_sgemm alone splits thin products' sums between threads on AVX2 machines, so that
// 1 and 2 threads gave different bits (and training runs different weights).
TEST(Gemm, SameBitsForAnyThreadCount) {
  const int64_t dims[][3] = {{32, 10, 1600}, {256, 10, 1600}, {10, 1600, 32}, {32, 9, 676},
                              {301, 37, 513}, {64, 3872, 288}, {64, 120, 400}, {120, 400, 64}};
  const int before = kernels::num_threads();
  for (const auto& d : dims)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const int64_t M = d[0], N = d[1], K = d[2];
        const int64_t lda = ta ? M : K, ldb = tb ? K : N;
        const auto A = random_vec(static_cast<size_t>((ta ? K : M) * lda), 4);
        const auto B = random_vec(static_cast<size_t>((tb ? N : K) * ldb), 5);
        std::vector<std::vector<float>> C;
        for (int threads : {1, 2, 3}) {
          kernels::set_num_threads(threads);
          C.emplace_back(static_cast<size_t>(M * N));
          kernels::gemm(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.back().data(), N);
        }
        EXPECT_EQ(C[0], C[1]) << "1 vs 2 threads, M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb;
        EXPECT_EQ(C[0], C[2]) << "1 vs 3 threads, M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb;
      }
  kernels::set_num_threads(before);
}

// oneDNN refuses a leading dimension shorter than a row; the refusal must surface as an
// error whichever path ran the product: one call, or blocks shared by a team.
TEST(Gemm, AFailedProductThrowsOnEveryPath) {
  const int before = kernels::num_threads();
  const int64_t dims[][3] = {{4, 4, 4}, {256, 10, 1600}};  // one call; cut into blocks
  for (const auto& d : dims)
    for (int threads : {1, 2}) {
      kernels::set_num_threads(threads);
      const int64_t M = d[0], N = d[1], K = d[2];
      const auto A = random_vec(static_cast<size_t>(M * K), 6), B = random_vec(static_cast<size_t>(K * N), 7);
      std::vector<float> C(static_cast<size_t>(M * N));
      const std::string msg = testing::error_of(
          [&] { kernels::gemm(false, false, M, N, K, 1.0f, A.data(), 1, B.data(), N, 0.0f, C.data(), N); });
      EXPECT_NE(msg.find("dnnl_sgemm failed with status"), std::string::npos) << msg;
      EXPECT_NE(msg.find("M=" + std::to_string(M) + " N=" + std::to_string(N)), std::string::npos) << msg;
    }
  kernels::set_num_threads(before);
}

TEST(Gemm, BetaZeroIgnoresGarbage) {
  std::vector<float> A = {1, 2, 3, 4}, B = {5, 6, 7, 8}, C(4, std::numeric_limits<float>::quiet_NaN());
  kernels::gemm(false, false, 2, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{19, 22, 43, 50}));
}

}  // namespace
}  // namespace mnistcnn
