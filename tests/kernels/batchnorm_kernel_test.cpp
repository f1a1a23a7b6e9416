// Batch-norm kernels: the SIMD-blocked sums against the plain double reference on odd
// shapes (one value per run, runs longer than a block, a large offset that float sums
// would lose), in both the batch-statistics and running-statistics backward.
#include "mnistcnn/kernels/batchnorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

void check(const kernels::BnDims& d, float offset, bool batch_stats) {
  const int64_t n = d.N * d.C * d.S;
  Tensor x = testing::random_tensor({n}, 1);
  for (auto& v : x.span()) v = v * 3.0f + offset;
  const Tensor dy = testing::random_tensor({n}, 2), gamma = testing::random_tensor({d.C}, 3);
  std::vector<float> mean(d.C), var(d.C), mean_ref(d.C), var_ref(d.C), invstd(d.C);
  kernels::batchnorm_stats(x.data(), d, mean.data(), var.data());
  kernels::batchnorm_stats_ref(x.data(), d, mean_ref.data(), var_ref.data());
  EXPECT_LE(testing::worst_mismatch(mean.data(), mean_ref.data(), d.C, 1e-5, 1e-6), 1.0) << "mean";
  EXPECT_LE(testing::worst_mismatch(var.data(), var_ref.data(), d.C, 1e-4, 1e-6), 1.0) << "var";
  for (int64_t c = 0; c < d.C; ++c) invstd[c] = 1.0f / std::sqrt(var_ref[c] + 1e-5f);

  std::vector<float> dx(n), dx_ref(n), dg(d.C, 0.5f), dg_ref(d.C, 0.5f), db(d.C, 0.5f), db_ref(d.C, 0.5f);
  kernels::batchnorm_backward(x.data(), dy.data(), d, mean_ref.data(), invstd.data(), gamma.data(), batch_stats,
                              dx.data(), dg.data(), db.data());
  kernels::batchnorm_backward_ref(x.data(), dy.data(), d, mean_ref.data(), invstd.data(), gamma.data(), batch_stats,
                                  dx_ref.data(), dg_ref.data(), db_ref.data());
  // Absolute floors scale with sqrt(M): the sums are of M terms of order one.
  const double floor = 1e-5 * std::sqrt(static_cast<double>(d.M()));
  EXPECT_LE(testing::worst_mismatch(dg.data(), dg_ref.data(), d.C, 1e-4, floor), 1.0) << "dgamma (accumulated)";
  EXPECT_LE(testing::worst_mismatch(db.data(), db_ref.data(), d.C, 1e-4, floor), 1.0) << "dbeta (accumulated)";
  EXPECT_LE(testing::worst_mismatch(dx.data(), dx_ref.data(), n, 1e-3, 1e-5), 1.0) << "dx";
}

TEST(BatchNormKernel, MatchesTheReferenceOnOddShapes) {
  for (const auto& d : {kernels::BnDims{3, 5, 7}, kernels::BnDims{13, 4, 1}, kernels::BnDims{2, 3, 1500},
                        kernels::BnDims{32, 16, 121}})
    for (bool batch_stats : {true, false}) {
      SCOPED_TRACE(std::to_string(d.N) + "x" + std::to_string(d.C) + "x" + std::to_string(d.S));
      check(d, 0.0f, batch_stats);
      check(d, 100.0f, batch_stats);  // a large mean: variance from deviations, not E[x²] − E[x]²
    }
}

}  // namespace
}  // namespace mnistcnn
