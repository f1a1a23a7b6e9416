// Convolution and pooling kernels: im2col+gemm against the direct reference on odd
// shapes with batch > 1, and hand-computed golden cases.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "mnistcnn/kernels/conv.h"
#include "mnistcnn/kernels/activation.h"
#include "mnistcnn/kernels/conv_direct.h"
#include "mnistcnn/kernels/conv_pooled.h"
#include "mnistcnn/kernels/conv_strided.h"
#include "mnistcnn/kernels/conv_winograd.h"
#include "mnistcnn/kernels/fuse.h"
#include "mnistcnn/kernels/pool.h"
#include "support/gradcheck.h"

namespace mnistcnn {
namespace {

using kernels::ConvGeometry;

// Sets the process-wide convolution algorithm for a scope.
struct ScopedConvAlgorithm {
  explicit ScopedConvAlgorithm(kernels::ConvAlgorithm a) { kernels::set_conv_algorithm(a); }
  ~ScopedConvAlgorithm() { kernels::set_conv_algorithm(kernels::ConvAlgorithm::Auto); }
};

void check_conv_against_reference(const ConvGeometry& g, int64_t N) {
  const Tensor x = testing::random_tensor({N, g.C, g.H, g.W}, 1);
  const Tensor w = testing::random_tensor({g.OC, g.C, g.KH, g.KW}, 2);
  const Tensor b = testing::random_tensor({g.OC}, 3);
  const int64_t L = g.L(), K = g.K(), out = N * g.OC * L, in = N * g.C * g.H * g.W;
  std::vector<float> col(static_cast<size_t>(kernels::conv2d_forward_scratch(g, omp_get_max_threads())));
  std::vector<float> scratch(static_cast<size_t>(kernels::conv2d_backward_scratch(g, N, omp_get_max_threads())));
  std::vector<float> y(static_cast<size_t>(out)), y_ref(static_cast<size_t>(out));
  kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, col.data(), y.data());
  kernels::conv2d_forward_ref(x.data(), w.data(), b.data(), g, N, y_ref.data());
  EXPECT_LE(testing::worst_mismatch(y.data(), y_ref.data(), out, 1e-4, 1e-5), 1.0) << "forward";

  const Tensor dy = testing::random_tensor({N, g.OC, g.OH(), g.OW()}, 4);
  std::vector<float> dw(static_cast<size_t>(g.OC * K), 0.5f), dw_ref = dw, db(static_cast<size_t>(g.OC), 0.25f),
      db_ref = db, dx(static_cast<size_t>(in), 9.0f), dx_ref(static_cast<size_t>(in));
  kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.data(), db.data(), dx.data());
  kernels::conv2d_backward_ref(x.data(), dy.data(), w.data(), g, N, dw_ref.data(), db_ref.data(), dx_ref.data());
  EXPECT_LE(testing::worst_mismatch(dw.data(), dw_ref.data(), g.OC * K, 1e-4, 1e-4), 1.0) << "dw (accumulated)";
  EXPECT_LE(testing::worst_mismatch(db.data(), db_ref.data(), g.OC, 1e-4, 1e-4), 1.0) << "db (accumulated)";
  EXPECT_LE(testing::worst_mismatch(dx.data(), dx_ref.data(), in, 1e-4, 1e-5), 1.0) << "dx (overwritten)";
}

// A batch through a convolution fused with ReLU and 2×2 pooling, a pooled gradient with
// every fifth value zero, and the reference gradients: the unpooled gradient through the
// seven-loop backward, accumulated onto dw = 0.5 and db = 0.25 (dx overwritten).
struct PooledCase {
  Tensor x, w, dy;
  std::vector<float> y, dw_ref, db_ref, dx_ref;
  std::vector<int32_t> argmax;
};
PooledCase pooled_case(const ConvGeometry& g, int64_t N, uint64_t seed) {
  PooledCase c;
  c.x = testing::random_tensor({N, g.C, g.H, g.W}, seed);
  c.w = testing::random_tensor({g.OC, g.C, g.KH, g.KW}, seed + 1);
  const Tensor b = testing::random_tensor({g.OC}, seed + 2);
  const int64_t P = N * g.OC, pooled = P * (g.OH() / 2) * (g.OW() / 2);
  std::vector<float> fwd(static_cast<size_t>(
      kernels::conv2d_forward_scratch(g, omp_get_max_threads(), kernels::Fuse::ReluMaxPool2)));
  c.y.resize(static_cast<size_t>(pooled));
  c.argmax.resize(c.y.size());
  kernels::conv2d_forward(c.x.data(), c.w.data(), b.data(), g, N, fwd.data(), c.y.data(), kernels::Fuse::ReluMaxPool2,
                          c.argmax.data());
  c.dy = testing::random_tensor({N, g.OC, g.OH() / 2, g.OW() / 2}, seed + 3);
  for (int64_t i = 0; i < pooled; i += 5) c.dy[i] = 0.0f;
  std::vector<float> d(static_cast<size_t>(P * g.L()));
  kernels::fused_backward_planes(kernels::Fuse::ReluMaxPool2, c.dy.data(), c.y.data(), c.argmax.data(), P, g.OH(),
                                 g.OW(), d.data());
  c.dw_ref.assign(static_cast<size_t>(g.OC * g.K()), 0.5f);
  c.db_ref.assign(static_cast<size_t>(g.OC), 0.25f);
  c.dx_ref.resize(static_cast<size_t>(c.x.numel()));
  kernels::conv2d_backward_ref(c.x.data(), d.data(), c.w.data(), g, N, c.dw_ref.data(), c.db_ref.data(),
                               c.dx_ref.data());
  return c;
}

TEST(ConvKernel, MatchesReferenceOnOddShapes) {
  check_conv_against_reference({.C = 1, .H = 28, .W = 28, .OC = 32, .KH = 3, .KW = 3, .stride = 1, .pad = 0}, 3);
  check_conv_against_reference({.C = 3, .H = 7, .W = 9, .OC = 5, .KH = 3, .KW = 3, .stride = 2, .pad = 1}, 3);
  check_conv_against_reference({.C = 2, .H = 15, .W = 1, .OC = 7, .KH = 1, .KW = 1, .stride = 1, .pad = 0}, 2);
  check_conv_against_reference({.C = 4, .H = 9, .W = 7, .OC = 3, .KH = 5, .KW = 5, .stride = 3, .pad = 2}, 5);
  check_conv_against_reference({.C = 1, .H = 3, .W = 3, .OC = 2, .KH = 3, .KW = 3, .stride = 1, .pad = 4}, 2);
  // One input channel: non-square, padded, one sample; and strided.
  check_conv_against_reference({.C = 1, .H = 9, .W = 13, .OC = 4, .KH = 5, .KW = 3, .stride = 1, .pad = 2}, 1);
  check_conv_against_reference({.C = 1, .H = 28, .W = 28, .OC = 8, .KH = 5, .KW = 5, .stride = 2, .pad = 2}, 3);
  // Stride 2 (phase rows of 10, 12 and 4: over and under one vector), as record's 5x5
  // convolutions, and an odd width.
  check_conv_against_reference({.C = 2, .H = 9, .W = 19, .OC = 3, .KH = 5, .KW = 5, .stride = 2, .pad = 2}, 2);
  check_conv_against_reference({.C = 32, .H = 24, .W = 24, .OC = 32, .KH = 5, .KW = 5, .stride = 2, .pad = 2}, 2);
  check_conv_against_reference({.C = 64, .H = 8, .W = 8, .OC = 64, .KH = 5, .KW = 5, .stride = 2, .pad = 2}, 2);
  // Stride 1, several channels: rows of 8, 16 and 17 floats (whole and partial vectors)
  // and kernels wider than a vector, with and without padding.
  check_conv_against_reference({.C = 32, .H = 13, .W = 13, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0}, 2);
  check_conv_against_reference({.C = 3, .H = 10, .W = 16, .OC = 4, .KH = 3, .KW = 3, .stride = 1, .pad = 1}, 2);
  check_conv_against_reference({.C = 2, .H = 6, .W = 17, .OC = 3, .KH = 5, .KW = 10, .stride = 1, .pad = 0}, 2);
  check_conv_against_reference({.C = 2, .H = 8, .W = 6, .OC = 3, .KH = 2, .KW = 2, .stride = 1, .pad = 1}, 3);
}

// One input channel, or (with AVX-512) several with at most 64 products per output;
// stride 1, no padding: the direct kernels, not columns and gemm (the weight gradient only
// for one channel). Output rows of 8 and 16 (one vector of AVX2's or AVX-512's), 24, 26, 9, 11
// and 17 (a last vector masked, or with AVX2 overlapping, in the forward; masked in the
// weight gradient), kernels 1 to 8 wide, channel counts that are and are not multiples
// of 8, one sample and several.
TEST(ConvKernel, DirectMatchesReference) {
  const ConvGeometry shapes[] = {
      {.C = 1, .H = 28, .W = 28, .OC = 8, .KH = 5, .KW = 5, .stride = 1, .pad = 0},    // fast99
      {.C = 1, .H = 28, .W = 28, .OC = 32, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // keras-mnist
      {.C = 1, .H = 28, .W = 28, .OC = 6, .KH = 3, .KW = 3, .stride = 1, .pad = 0},    // lenet
      {.C = 1, .H = 10, .W = 15, .OC = 13, .KH = 2, .KW = 8, .stride = 1, .pad = 0},   // OW 8
      {.C = 1, .H = 9, .W = 9, .OC = 3, .KH = 4, .KW = 1, .stride = 1, .pad = 0},      // OW 9
      {.C = 1, .H = 12, .W = 23, .OC = 9, .KH = 7, .KW = 7, .stride = 1, .pad = 0},    // OW 17
      {.C = 1, .H = 18, .W = 18, .OC = 11, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // OW 16
      {.C = 6, .H = 13, .W = 13, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // lenet conv2, OW 11
      {.C = 2, .H = 14, .W = 21, .OC = 5, .KH = 5, .KW = 5, .stride = 1, .pad = 0},    // OW 17
      {.C = 4, .H = 10, .W = 23, .OC = 9, .KH = 2, .KW = 7, .stride = 1, .pad = 0},
  };
  for (const auto& g : shapes) {
#if defined(__AVX512F__)
    EXPECT_TRUE(kernels::direct_conv_applies(g)) << g.C << "x" << g.KH << "x" << g.KW;
#elif defined(__AVX2__)
    EXPECT_EQ(kernels::direct_conv_applies(g), g.C == 1) << g.C << "x" << g.KH << "x" << g.KW;
#endif
    for (int64_t N : {1, 5}) check_conv_against_reference(g, N);
  }
  // Padding, a stride, over 64 products per output (fast99's second layer: 8 channels of
  // 5x5) or rows under 8 go through the columns.
  EXPECT_FALSE(kernels::direct_conv_applies({1, 28, 28, 8, 5, 5, 1, 2}));
  EXPECT_FALSE(kernels::direct_conv_applies({1, 28, 28, 8, 5, 5, 2, 0}));
  EXPECT_FALSE(kernels::direct_conv_applies({8, 12, 12, 24, 5, 5, 1, 0}));
  EXPECT_FALSE(kernels::direct_conv_applies({3, 28, 28, 8, 5, 5, 1, 0}));
  EXPECT_FALSE(kernels::direct_conv_applies({1, 9, 9, 8, 3, 3, 1, 0}));
  EXPECT_FALSE(kernels::direct_conv_applies({1, 28, 28, 8, 3, 9, 1, 0}));
}

// 3×3, stride 1, 16+ channels, a batch of enough tiles: Winograd. Odd and even output
// sizes (a last tile half outside), padding 0 to 3, a single output, rows of tiles over one
// vector (TW 9 and 12), channel counts that are not multiples of 8 (nor of the forward's
// blocks of 4 output channels, 8 with AVX-512), over 128 input channels; for each, one sample,
// the smallest batch that takes Winograd and a larger one (several chunks, a remainder).
TEST(ConvKernel, WinogradMatchesReference) {
  const ConvGeometry shapes[] = {
      {.C = 32, .H = 13, .W = 13, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0},  // keras-mnist conv2
      {.C = 32, .H = 26, .W = 26, .OC = 32, .KH = 3, .KW = 3, .stride = 1, .pad = 0},  // record conv2, TW 12
      {.C = 16, .H = 6, .W = 7, .OC = 24, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
      {.C = 17, .H = 5, .W = 4, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 2},
      {.C = 16, .H = 3, .W = 3, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 0},    // one output
      {.C = 16, .H = 2, .W = 3, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 3},    // padding over the kernel
      {.C = 20, .H = 19, .W = 20, .OC = 17, .KH = 3, .KW = 3, .stride = 1, .pad = 0},  // 17×18, TW 9
      {.C = 130, .H = 4, .W = 5, .OC = 21, .KH = 3, .KW = 3, .stride = 1, .pad = 1},   // sums in two blocks
  };
  for (const auto& g : shapes) {
    EXPECT_TRUE(kernels::winograd_fits(g)) << g.C << "x" << g.H << "x" << g.W;
    int64_t smallest = 1;
    while (!kernels::winograd_applies(g, smallest)) ++smallest;
    for (int64_t N : {int64_t{1}, smallest, smallest + 3}) check_conv_against_reference(g, N);
  }
  // One keras-mnist image (36 tiles) goes through columns, two through Winograd.
  EXPECT_FALSE(kernels::winograd_applies(shapes[0], 1));
  EXPECT_TRUE(kernels::winograd_applies(shapes[0], 2));
  // Fewer than 16 channels in or out, another kernel size or a stride: columns.
  EXPECT_FALSE(kernels::winograd_fits({15, 13, 13, 64, 3, 3, 1, 0}));
  EXPECT_FALSE(kernels::winograd_fits({32, 13, 13, 15, 3, 3, 1, 0}));
  EXPECT_FALSE(kernels::winograd_fits({32, 13, 13, 64, 5, 5, 1, 0}));
  EXPECT_FALSE(kernels::winograd_fits({32, 13, 13, 64, 3, 3, 2, 0}));
  EXPECT_FALSE(kernels::winograd_fits({1, 28, 28, 32, 3, 3, 1, 0}));
}

// The layers fused into a convolution (a ReLU; a ReLU then 2×2 max pooling, which
// Winograd with AVX-512 takes straight from its products) have the same bits as the
// convolution alone followed by relu_forward and maxpool_forward, through the columns and
// through Winograd: odd outputs (pooled, a last row and column in no window, which are not
// computed) and even ones, padding, one sample and several chunks, a sample of over 16
// vectors of tiles; and through the direct kernel for few input channels, which pools in registers (with the
// argmax for training, without for inference): 1, 3 and 6 input channels, rows of 10, 11,
// 16, 21, 22, 24, 26 and 41 outputs (steps of 8 windows, whole and partial), odd last
// rows, kernels 2 to 7 wide, output channel counts that are not multiples of 8; and with
// output channels in lanes (lenet's second layer and two more; batches over one).
TEST(ConvKernel, FusedLayersHaveTheBitsOfTheLayersAlone) {
  const ConvGeometry shapes[] = {
      {.C = 32, .H = 13, .W = 13, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0},  // keras-mnist conv2
      {.C = 16, .H = 12, .W = 10, .OC = 17, .KH = 3, .KW = 3, .stride = 1, .pad = 0},
      {.C = 16, .H = 9, .W = 7, .OC = 24, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
      {.C = 20, .H = 36, .W = 38, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 1},  // 342 tiles
      {.C = 1, .H = 28, .W = 28, .OC = 32, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // keras-mnist conv1
      {.C = 1, .H = 28, .W = 28, .OC = 6, .KH = 3, .KW = 3, .stride = 1, .pad = 0},    // lenet conv1
      {.C = 1, .H = 21, .W = 18, .OC = 11, .KH = 3, .KW = 3, .stride = 1, .pad = 0},
      {.C = 1, .H = 25, .W = 26, .OC = 9, .KH = 5, .KW = 5, .stride = 1, .pad = 0},
      {.C = 1, .H = 20, .W = 23, .OC = 5, .KH = 3, .KW = 3, .stride = 1, .pad = 0},
      {.C = 1, .H = 28, .W = 28, .OC = 8, .KH = 5, .KW = 5, .stride = 1, .pad = 0},    // fast99 conv1
      {.C = 1, .H = 12, .W = 16, .OC = 3, .KH = 4, .KW = 7, .stride = 1, .pad = 0},    // 9×10, a kernel of 7
      {.C = 1, .H = 35, .W = 42, .OC = 17, .KH = 2, .KW = 2, .stride = 1, .pad = 0},   // 41 wide: 3 steps of 8
      // One input channel, windows in the lanes: rows of 34 and 20 windows (blocks of 16).
      {.C = 1, .H = 37, .W = 71, .OC = 7, .KH = 3, .KW = 3, .stride = 1, .pad = 0},
      {.C = 1, .H = 30, .W = 45, .OC = 5, .KH = 5, .KW = 5, .stride = 1, .pad = 0},
      {.C = 6, .H = 13, .W = 13, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // lenet conv2
      {.C = 3, .H = 20, .W = 27, .OC = 11, .KH = 5, .KW = 4, .stride = 1, .pad = 0},
      // Output channels in vector lanes (several input channels, OC a multiple of 16):
      // two blocks of 16 and 5x5; rows of 8 and 13 windows (steps of 6, whole and partial)
      // with a kernel 4 wide.
      {.C = 2, .H = 20, .W = 21, .OC = 32, .KH = 5, .KW = 5, .stride = 1, .pad = 0},
      {.C = 4, .H = 15, .W = 30, .OC = 16, .KH = 3, .KW = 4, .stride = 1, .pad = 0},
  };
  for (const auto algorithm : {kernels::ConvAlgorithm::Columns, kernels::ConvAlgorithm::Auto})
    for (const auto& g : shapes)
      for (int64_t N : {1, 2, 7}) {
        const ScopedConvAlgorithm scoped(algorithm);
        const Tensor x = testing::random_tensor({N, g.C, g.H, g.W}, 1);
        const Tensor w = testing::random_tensor({g.OC, g.C, g.KH, g.KW}, 2);
        const Tensor b = testing::random_tensor({g.OC}, 3);
        const int64_t full = N * g.OC * g.L(), pooled = N * g.OC * (g.OH() / 2) * (g.OW() / 2);
        // Room for each fusion below (each needs its own size; pooled in Winograd's transform
        // is not the largest).
        int64_t room = 0;
        for (const auto fuse : {kernels::Fuse::None, kernels::Fuse::Relu, kernels::Fuse::ReluMaxPool2})
          room = std::max(room, kernels::conv2d_forward_scratch(g, omp_get_max_threads(), fuse));
        std::vector<float> scratch(static_cast<size_t>(room));
        std::vector<float> y(static_cast<size_t>(full)), relu(y.size()), pool(static_cast<size_t>(pooled));
        std::vector<int32_t> pool_at(pool.size());
        kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, scratch.data(), y.data());
        kernels::relu_forward(y.data(), relu.data(), full);
        kernels::maxpool_forward(relu.data(), N * g.OC, {g.OH(), g.OW(), 2, 2, 0}, pool.data(), pool_at.data());
        std::vector<float> fused(y.size()), fused_pool(pool.size());
        std::vector<int32_t> fused_at(pool.size());
        kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, scratch.data(), fused.data(), kernels::Fuse::Relu);
        EXPECT_EQ(fused, relu) << g.C << "x" << g.H << "x" << g.W << " N " << N;
        kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, scratch.data(), fused_pool.data(),
                                kernels::Fuse::ReluMaxPool2, fused_at.data());
        EXPECT_EQ(fused_pool, pool) << g.C << "x" << g.H << "x" << g.W << " N " << N;
        EXPECT_EQ(fused_at, pool_at) << g.C << "x" << g.H << "x" << g.W << " N " << N;
        // Inference keeps no argmax: the same pooled values (the direct kernel pools in registers).
        std::vector<float> inferred(pool.size(), -1.0f);
        kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, scratch.data(), inferred.data(),
                                kernels::Fuse::ReluMaxPool2, nullptr);
        EXPECT_EQ(inferred, pool) << g.C << "x" << g.H << "x" << g.W << " N " << N << " without argmax";
      }
}

// The backward through a fused ReLU and 2×2 pooling, summing over the windows' maxima
// alone (kernels/conv_pooled.h), against the reference backward of the unpooled gradient
// (what maxpool_backward and relu_backward give): lenet's and keras-mnist's second
// layers, a padded one, a strided 5x5, odd planes, a patch row of exactly 16 floats and
// one just over, frozen weights (bias and input gradient only) and no bias; with windows the ReLU
// kills and zero gradients. Each thread count gives the same bits.
TEST(ConvKernel, PooledBackwardMatchesTheUnpooledGradient) {
  const ConvGeometry shapes[] = {
      {.C = 6, .H = 13, .W = 13, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // lenet conv2
      {.C = 32, .H = 13, .W = 13, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0},  // keras-mnist conv2
      {.C = 8, .H = 9, .W = 12, .OC = 5, .KH = 3, .KW = 3, .stride = 1, .pad = 1},
      {.C = 4, .H = 17, .W = 14, .OC = 7, .KH = 5, .KW = 5, .stride = 2, .pad = 2},
      {.C = 6, .H = 11, .W = 10, .OC = 3, .KH = 5, .KW = 3, .stride = 1, .pad = 0},    // 3x5 windows' rows odd
      {.C = 16, .H = 7, .W = 7, .OC = 9, .KH = 3, .KW = 1, .stride = 1, .pad = 0},     // rows of 16 floats
      {.C = 17, .H = 6, .W = 8, .OC = 4, .KH = 3, .KW = 1, .stride = 1, .pad = 0},     // 17
  };
  const int before = omp_get_max_threads();
  for (const auto& g : shapes) {
#if defined(__AVX512F__)
    EXPECT_TRUE(kernels::pooled_backward_applies(g)) << g.C << "x" << g.H << "x" << g.W;
#endif
    for (int64_t N : {1, 5, 9}) {
      const PooledCase c = pooled_case(g, N, 1);
      const Tensor &x = c.x, &w = c.w, &dy = c.dy;
      const auto &y = c.y, &dw_ref = c.dw_ref, &db_ref = c.db_ref, &dx_ref = c.dx_ref;
      const auto& argmax = c.argmax;
      const int64_t in = N * g.C * g.H * g.W, K = g.C * g.KH * g.KW;
      std::vector<std::vector<float>> dws, dbs, dxs;
      for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        std::vector<float> scratch(static_cast<size_t>(
            kernels::conv2d_backward_scratch(g, N, threads, kernels::Fuse::ReluMaxPool2)));
        std::vector<float> dw(dw_ref.size(), 0.5f), db(db_ref.size(), 0.25f), dx(dx_ref.size(), 9.0f);
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.data(), db.data(), dx.data(),
                                 kernels::Fuse::ReluMaxPool2, y.data(), argmax.data());
        EXPECT_LE(testing::worst_mismatch(dw.data(), dw_ref.data(), g.OC * K, 1e-4, 1e-4), 1.0) << g.C << " N " << N;
        EXPECT_LE(testing::worst_mismatch(db.data(), db_ref.data(), g.OC, 1e-4, 1e-4), 1.0) << g.C << " N " << N;
        EXPECT_LE(testing::worst_mismatch(dx.data(), dx_ref.data(), in, 1e-4, 1e-5), 1.0) << g.C << " N " << N;
        dws.push_back(dw);
        dbs.push_back(db);
        dxs.push_back(dx);
        // Frozen weights: bias and input gradients only, the same bits.
        std::vector<float> db2(db_ref.size(), 0.25f), dx2(dx_ref.size(), -1.0f);
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), nullptr, db2.data(), dx2.data(),
                                 kernels::Fuse::ReluMaxPool2, y.data(), argmax.data());
        EXPECT_EQ(db2, db) << g.C << " N " << N;
        EXPECT_EQ(dx2, dx) << g.C << " N " << N;
        // No bias, no input gradient: the same weight gradient.
        std::vector<float> dw2(dw_ref.size(), 0.5f);
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw2.data(), nullptr, nullptr,
                                 kernels::Fuse::ReluMaxPool2, y.data(), argmax.data());
        EXPECT_EQ(dw2, dw) << g.C << " N " << N;
      }
      omp_set_num_threads(before);
      for (size_t t = 1; t < dws.size(); ++t) {
        EXPECT_EQ(dws[t], dws[0]) << g.C << " N " << N << " threads " << t + 1;
        EXPECT_EQ(dbs[t], dbs[0]) << g.C << " N " << N << " threads " << t + 1;
        EXPECT_EQ(dxs[t], dxs[0]) << g.C << " N " << N << " threads " << t + 1;
      }
    }
  }
  // Kernels of other heights, patch rows under a vector (keras-mnist's first layer) or over
  // the registers keep the unpooled path.
  EXPECT_FALSE(kernels::pooled_backward_applies({1, 28, 28, 32, 3, 3, 1, 0}));
  EXPECT_FALSE(kernels::pooled_backward_applies({5, 13, 13, 8, 3, 3, 1, 0}));
  EXPECT_FALSE(kernels::pooled_backward_applies({8, 28, 28, 8, 4, 4, 1, 0}));
  EXPECT_FALSE(kernels::pooled_backward_applies({33, 13, 13, 8, 3, 3, 1, 0}));
  EXPECT_FALSE(kernels::pooled_backward_applies({13, 13, 13, 8, 5, 5, 1, 0}));
  EXPECT_FALSE(kernels::pooled_backward_applies({4, 2, 2, 8, 3, 3, 1, 0}));  // no window
}

// The same backward for one input channel (kernels/conv_pooled.h, the split kernel): lenet's,
// keras-mnist's and fast99's first layers, a padded one, odd planes (the pooling drops a
// row and a column), windows wider than a vector (two blocks of 16), a single window;
// against the reference backward of the unpooled gradient, frozen weights and no bias
// giving the same bits, and each thread count the same bits. With an input gradient asked
// for, the unpooled path answers (the split kernel has none).
TEST(ConvKernel, PooledBackwardOfOneInputChannelMatchesTheUnpooledGradient) {
  const ConvGeometry shapes[] = {
      {.C = 1, .H = 28, .W = 28, .OC = 6, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // lenet conv1
      {.C = 1, .H = 28, .W = 28, .OC = 32, .KH = 3, .KW = 3, .stride = 1, .pad = 0},  // keras-mnist conv1
      {.C = 1, .H = 28, .W = 28, .OC = 8, .KH = 5, .KW = 5, .stride = 1, .pad = 0},   // fast99 conv1
      {.C = 1, .H = 28, .W = 28, .OC = 5, .KH = 3, .KW = 3, .stride = 1, .pad = 1},   // same padding
      {.C = 1, .H = 13, .W = 12, .OC = 3, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // 11x10: a row dropped
      {.C = 1, .H = 12, .W = 15, .OC = 7, .KH = 5, .KW = 5, .stride = 1, .pad = 2},   // 12x15: a column dropped
      {.C = 1, .H = 40, .W = 71, .OC = 4, .KH = 3, .KW = 3, .stride = 1, .pad = 0},   // 34 windows a row
      {.C = 1, .H = 4, .W = 5, .OC = 2, .KH = 3, .KW = 3, .stride = 1, .pad = 0},     // one window
  };
  const int before = omp_get_max_threads();
  for (const auto& g : shapes) {
#if defined(__AVX512F__)
    EXPECT_TRUE(kernels::pooled_split_backward_applies(g)) << g.H << "x" << g.W << " OC " << g.OC;
#endif
    for (int64_t N : {1, 5, 9}) {
      const PooledCase c = pooled_case(g, N, 11);
      const Tensor &x = c.x, &w = c.w, &dy = c.dy;
      const auto &y = c.y, &dw_ref = c.dw_ref, &db_ref = c.db_ref, &dx_ref = c.dx_ref;
      const auto& argmax = c.argmax;
      const int64_t in = N * g.C * g.H * g.W, K = g.C * g.KH * g.KW;
      std::vector<std::vector<float>> dws, dbs;
      for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        std::vector<float> scratch(static_cast<size_t>(
            kernels::conv2d_backward_scratch(g, N, threads, kernels::Fuse::ReluMaxPool2)));
        std::vector<float> dw(dw_ref.size(), 0.5f), db(db_ref.size(), 0.25f);
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.data(), db.data(), nullptr,
                                 kernels::Fuse::ReluMaxPool2, y.data(), argmax.data());
        EXPECT_LE(testing::worst_mismatch(dw.data(), dw_ref.data(), g.OC * K, 1e-4, 1e-4), 1.0) << g.W << " N " << N;
        EXPECT_LE(testing::worst_mismatch(db.data(), db_ref.data(), g.OC, 1e-4, 1e-4), 1.0) << g.W << " N " << N;
        dws.push_back(dw);
        dbs.push_back(db);
        std::vector<float> db2(db_ref.size(), 0.25f), dw2(dw_ref.size(), 0.5f);
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), nullptr, db2.data(), nullptr,
                                 kernels::Fuse::ReluMaxPool2, y.data(), argmax.data());
        EXPECT_EQ(db2, db) << g.W << " N " << N;
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw2.data(), nullptr, nullptr,
                                 kernels::Fuse::ReluMaxPool2, y.data(), argmax.data());
        EXPECT_EQ(dw2, dw) << g.W << " N " << N;
        // An input gradient as well: the unpooled path, the same gradients up to rounding.
        std::vector<float> dw3(dw_ref.size(), 0.5f), db3(db_ref.size(), 0.25f), dx3(dx_ref.size(), 9.0f);
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw3.data(), db3.data(),
                                 dx3.data(), kernels::Fuse::ReluMaxPool2, y.data(), argmax.data());
        EXPECT_LE(testing::worst_mismatch(dw3.data(), dw_ref.data(), g.OC * K, 1e-4, 1e-4), 1.0) << g.W << " N " << N;
        EXPECT_LE(testing::worst_mismatch(dx3.data(), dx_ref.data(), in, 1e-4, 1e-5), 1.0) << g.W << " N " << N;
      }
      omp_set_num_threads(before);
      for (size_t t = 1; t < dws.size(); ++t) {
        EXPECT_EQ(dws[t], dws[0]) << g.W << " N " << N << " threads " << t + 1;
        EXPECT_EQ(dbs[t], dbs[0]) << g.W << " N " << N << " threads " << t + 1;
      }
    }
  }
  // Several input channels, a stride, or kernels other than 3x3 and 5x5 keep other paths.
  EXPECT_FALSE(kernels::pooled_split_backward_applies({2, 28, 28, 8, 3, 3, 1, 0}));
  EXPECT_FALSE(kernels::pooled_split_backward_applies({1, 28, 28, 8, 3, 3, 2, 0}));
  EXPECT_FALSE(kernels::pooled_split_backward_applies({1, 28, 28, 8, 4, 4, 1, 0}));
  EXPECT_FALSE(kernels::pooled_split_backward_applies({1, 28, 28, 8, 3, 5, 1, 0}));
  EXPECT_FALSE(kernels::pooled_split_backward_applies({1, 3, 3, 8, 3, 3, 1, 0}));  // no window
}

// Stride 2 or more with channels in multiples of 8: the strided direct kernels. Record's two
// 5x5 layers; channel blocks of 16 and a last of 8 (24 channels, in and out); stride 3 on
// odd sizes; a 1x1 kernel (input positions no tap reaches: dx 0 there); kernels wider
// than a register block (7) and not square; padding over the kernel; a plane narrower
// than the stride. One sample, a chunk, and a batch of several chunks and a remainder.
TEST(ConvKernel, StridedMatchesReference) {
  const ConvGeometry shapes[] = {
      {.C = 32, .H = 24, .W = 24, .OC = 32, .KH = 5, .KW = 5, .stride = 2, .pad = 2},  // record conv3
      {.C = 64, .H = 8, .W = 8, .OC = 64, .KH = 5, .KW = 5, .stride = 2, .pad = 2},    // record conv6
      {.C = 24, .H = 10, .W = 9, .OC = 24, .KH = 3, .KW = 3, .stride = 2, .pad = 1},
      {.C = 8, .H = 11, .W = 13, .OC = 16, .KH = 5, .KW = 5, .stride = 3, .pad = 1},
      {.C = 8, .H = 7, .W = 6, .OC = 8, .KH = 1, .KW = 1, .stride = 2, .pad = 0},
      {.C = 16, .H = 9, .W = 14, .OC = 8, .KH = 4, .KW = 7, .stride = 2, .pad = 3},
      {.C = 8, .H = 3, .W = 1, .OC = 8, .KH = 3, .KW = 1, .stride = 2, .pad = 1},
  };
  for (const auto& g : shapes) {
#if defined(__AVX2__) && defined(__FMA__)
    EXPECT_TRUE(kernels::strided_conv_applies(g)) << g.C << "x" << g.H << "x" << g.W;
#endif
    for (int64_t N : {1, 4, 9}) check_conv_against_reference(g, N);
  }
  // Stride 1, or channels that are not multiples of 8: columns (or another kernel).
  EXPECT_FALSE(kernels::strided_conv_applies({32, 24, 24, 32, 5, 5, 1, 2}));
  EXPECT_FALSE(kernels::strided_conv_applies({12, 24, 24, 32, 5, 5, 2, 2}));
  EXPECT_FALSE(kernels::strided_conv_applies({32, 24, 24, 20, 5, 5, 2, 2}));
  EXPECT_FALSE(kernels::strided_conv_applies({1, 28, 28, 8, 5, 5, 2, 2}));
}

// A batch too small for Winograd on a geometry it fits goes through columns, each thread
// at its own offset in the scratch sized for either path: on 8 threads, each thread's
// columns must land inside it (ASan checks the bounds), and the result is the reference's.
TEST(ConvKernel, SmallBatchOfAWinogradGeometryFitsTheScratch) {
  const ConvGeometry g{.C = 64, .H = 5, .W = 5, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0};  // 4 tiles
  ASSERT_TRUE(kernels::winograd_fits(g));
  ASSERT_FALSE(kernels::winograd_applies(g, 8));
  const int before = omp_get_max_threads();
  omp_set_num_threads(8);
  check_conv_against_reference(g, 8);
  omp_set_num_threads(before);
}

// ConvAlgorithm::Columns takes the columns for a geometry Winograd or the strided kernels
// would take: the two agree up to rounding, and the outputs and input gradients do not
// give the same bits (so the switch did switch).
TEST(ConvKernel, ColumnsAndWinogradOrStridedAgree) {
  for (const ConvGeometry& g : {ConvGeometry{.C = 32, .H = 13, .W = 13, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0},
                                ConvGeometry{.C = 32, .H = 24, .W = 24, .OC = 32, .KH = 5, .KW = 5, .stride = 2, .pad = 2}}) {
    const int64_t N = 4, out = N * g.OC * g.L(), in = N * g.C * g.H * g.W;
    const Tensor x = testing::random_tensor({N, g.C, g.H, g.W}, 1);
    const Tensor w = testing::random_tensor({g.OC, g.C, g.KH, g.KW}, 2);
    const Tensor dy = testing::random_tensor({N, g.OC, g.OH(), g.OW()}, 4);
    std::vector<float> y[2], dw[2], dx[2];
    for (int columns = 0; columns < 2; ++columns) {
      kernels::set_conv_algorithm(columns ? kernels::ConvAlgorithm::Columns : kernels::ConvAlgorithm::Auto);
      std::vector<float> scratch(static_cast<size_t>(std::max(kernels::conv2d_forward_scratch(g, omp_get_max_threads()),
                                                              kernels::conv2d_backward_scratch(g, N, omp_get_max_threads()))));
      y[columns].resize(static_cast<size_t>(out));
      dw[columns].assign(static_cast<size_t>(g.OC * g.K()), 0.0f);
      dx[columns].resize(static_cast<size_t>(in));
      kernels::conv2d_forward(x.data(), w.data(), nullptr, g, N, scratch.data(), y[columns].data());
      kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw[columns].data(), nullptr,
                               dx[columns].data());
    }
    kernels::set_conv_algorithm(kernels::ConvAlgorithm::Auto);
    EXPECT_LE(testing::worst_mismatch(y[0].data(), y[1].data(), out, 1e-4, 1e-5), 1.0) << g.KH;
    EXPECT_LE(testing::worst_mismatch(dw[0].data(), dw[1].data(), g.OC * g.K(), 1e-4, 1e-4), 1.0) << g.KH;
    EXPECT_LE(testing::worst_mismatch(dx[0].data(), dx[1].data(), in, 1e-4, 1e-5), 1.0) << g.KH;
    if (g.stride > 1 && !kernels::strided_conv_applies(g)) continue;  // no AVX2: columns both times
    EXPECT_NE(y[0], y[1]) << g.KH;
    EXPECT_NE(dx[0], dx[1]) << g.KH;
    // The strided kernels' weight gradient sums each sample's positions in order in one FMA
    // chain, then the samples in order: where oneDNN's sgemm does the same (its AVX-512
    // kernels, on a Zen 5), the two give the same bits, rightly.
    if (g.stride == 1) {
      EXPECT_NE(dw[0], dw[1]) << g.KH;
    }
  }
}

// Forward and backward give the same bits on 1, 2 and 3 threads, for one sample (whose
// gemm shares out the threads) and for a batch (shared out by samples and chunks; the
// Winograd forward's chunks of a small batch shrink with more threads).
TEST(ConvKernel, SameBitsForAnyThreadCount) {
  // keras-mnist's second convolution (columns for one sample, Winograd for 2, 5 and 32) and
  // its first (direct); record's second (Winograd, one sample per chunk), a 5×5 one
  // (columns and gemm) and a strided one (the strided kernels)
  const ConvGeometry geometries[] = {{32, 13, 13, 64, 3, 3, 1, 0},
                                     {1, 28, 28, 32, 3, 3, 1, 0},
                                     {32, 26, 26, 32, 3, 3, 1, 0},
                                     {8, 12, 12, 24, 5, 5, 1, 0},
                                     {16, 12, 12, 24, 5, 5, 2, 2}};
  const int before = omp_get_max_threads();
  for (const auto& g : geometries) {
    for (int64_t N : {1, 2, 5, 32}) {
      const Tensor x = testing::random_tensor({N, g.C, g.H, g.W}, 1);
      const Tensor w = testing::random_tensor({g.OC, g.C, g.KH, g.KW}, 2);
      const Tensor b = testing::random_tensor({g.OC}, 3);
      const Tensor dy = testing::random_tensor({N, g.OC, g.OH(), g.OW()}, 4);
      std::vector<std::vector<float>> y, dw, dx;
      for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        std::vector<float> col(static_cast<size_t>(kernels::conv2d_forward_scratch(g, threads)));
        std::vector<float> scratch(static_cast<size_t>(kernels::conv2d_backward_scratch(g, N, threads)));
        y.emplace_back(static_cast<size_t>(N * g.OC * g.L()));
        dw.emplace_back(static_cast<size_t>(g.OC * g.K()), 0.0f);
        dx.emplace_back(static_cast<size_t>(x.numel()));
        std::vector<float> db(static_cast<size_t>(g.OC), 0.0f);
        kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, col.data(), y.back().data());
        kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.back().data(), db.data(),
                                 dx.back().data());
      }
      for (size_t t = 1; t < y.size(); ++t) {
        EXPECT_EQ(y[0], y[t]) << "forward, N=" << N << ", " << t + 1 << " threads";
        EXPECT_EQ(dw[0], dw[t]) << "dw, N=" << N << ", " << t + 1 << " threads";
        EXPECT_EQ(dx[0], dx[t]) << "dx, N=" << N << ", " << t + 1 << " threads";
      }
    }
  }
  omp_set_num_threads(before);
}

TEST(ConvKernel, GoldenPaddingAndStride) {
  // 1×1×3×3 input 1..9, 2×2 kernel of ones, stride 2, padding 1: each output sums the
  // window's in-bounds inputs.
  const ConvGeometry g{.C = 1, .H = 3, .W = 3, .OC = 1, .KH = 2, .KW = 2, .stride = 2, .pad = 1};
  ASSERT_EQ(g.OH(), 2);
  ASSERT_EQ(g.OW(), 2);
  const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f};
  float col[16], y[4];
  kernels::conv2d_forward(x, w, b, g, 1, col, y);
  EXPECT_FLOAT_EQ(y[0], 1 + 0.5f);
  EXPECT_FLOAT_EQ(y[1], 2 + 3 + 0.5f);
  EXPECT_FLOAT_EQ(y[2], 4 + 7 + 0.5f);
  EXPECT_FLOAT_EQ(y[3], 5 + 6 + 8 + 9 + 0.5f);
}

TEST(PoolKernel, MaxRoutesGradientToTheMaximum) {
  const kernels::PoolGeometry g{.H = 4, .W = 4, .K = 2, .stride = 2, .pad = 0};
  const float x[16] = {1, 5, 2, 0,  //
                       3, 4, 8, 1,  //
                       0, 0, 7, 7,  //
                       9, 0, 6, 2};
  float y[4];
  int32_t arg[4];
  kernels::maxpool_forward(x, 1, g, y, arg);
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{5, 8, 9, 7}));
  const float dy[4] = {10, 20, 30, 40};
  float dx[16];
  kernels::maxpool_backward(dy, arg, 1, g, dx);
  const std::vector<float> expected = {0, 10, 0, 0, 0, 0, 20, 0, 0, 0, 40, 0, 30, 0, 0, 0};  // tie: first max
  EXPECT_EQ(std::vector<float>(dx, dx + 16), expected);
}

TEST(PoolKernel, FastMaxPoolMatchesReferenceWithTiesAndNaN) {
  for (const auto& [H, W] : {std::pair<int64_t, int64_t>{7, 9}, {2, 2}, {26, 26}, {11, 11}, {5, 3}, {4, 40}, {3, 35}}) {
    const kernels::PoolGeometry g{.H = H, .W = W, .K = 2, .stride = 2, .pad = 0};
    const int64_t P = 3, n = P * H * W, m = P * g.OH() * g.OW();
    Tensor x = testing::random_tensor({P, 1, H, W}, 9);
    for (int64_t i = 0; i < n; i += 5) x[i] = x[i + 1 < n ? i + 1 : i];  // ties
    for (int64_t i = 3; i < n; i += 17) x[i] = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> y(static_cast<size_t>(m)), y_ref(static_cast<size_t>(m));
    std::vector<int32_t> a(static_cast<size_t>(m)), a_ref(static_cast<size_t>(m));
    kernels::maxpool_forward(x.data(), P, g, y.data(), a.data());
    kernels::maxpool_forward_ref(x.data(), P, g, y_ref.data(), a_ref.data());
    EXPECT_EQ(a, a_ref) << H << "x" << W;
    for (int64_t i = 0; i < m; ++i)
      EXPECT_TRUE(y[i] == y_ref[i] || (std::isnan(y[i]) && std::isnan(y_ref[i]))) << H << "x" << W << " at " << i;
    std::vector<float> y_alone(static_cast<size_t>(m));  // inference: no argmax written
    kernels::maxpool2x2_planes(x.data(), P, H, W, y_alone.data(), nullptr);
    EXPECT_EQ(std::memcmp(y_alone.data(), y.data(), sizeof(float) * static_cast<size_t>(m)), 0) << H << "x" << W;
  }
}

// The fused ReLU + 2x2 max-pool backward gives what maxpool_backward then relu_backward
// give, bit for bit (signed zeros included): rows of 1 to 13 windows (whole and partial
// groups of AVX2's 4 and AVX-512's 8), odd heights and widths (an uncovered last row and column), negative,
// zero and tied inputs.
TEST(FuseKernel, ReluMaxPoolBackwardEqualsPoolingThenRelu) {
  for (const auto& [H, W] : {std::pair<int64_t, int64_t>{2, 2}, {3, 5}, {4, 8}, {5, 9}, {6, 17}, {7, 3}, {24, 24},
                             {26, 26}, {2, 18}}) {
    const kernels::PoolGeometry g{.H = H, .W = W, .K = 2, .stride = 2, .pad = 0};
    const int64_t P = 3, n = P * H * W, m = P * g.OH() * g.OW();
    Tensor x = testing::random_tensor({P, 1, H, W}, 11);
    for (int64_t i = 0; i < n; i += 7) x[i] = 0.0f;
    for (int64_t i = 2; i < n; i += 5) x[i] = x[i - 1];  // ties
    std::vector<float> r(static_cast<size_t>(n)), y(static_cast<size_t>(m));
    std::vector<int32_t> argmax(static_cast<size_t>(m));
    kernels::relu_forward(x.data(), r.data(), n);
    kernels::maxpool2x2_planes(r.data(), P, H, W, y.data(), argmax.data());
    Tensor dy = testing::random_tensor({P, 1, g.OH(), g.OW()}, 12);
    dy[0] = -0.0f;
    std::vector<float> dr(static_cast<size_t>(n)), want(static_cast<size_t>(n)), got(static_cast<size_t>(n), 7.0f);
    kernels::maxpool_backward(dy.data(), argmax.data(), P, g, dr.data());
    kernels::relu_backward(r.data(), dr.data(), want.data(), n);
    kernels::fused_backward_planes(kernels::Fuse::ReluMaxPool2, dy.data(), y.data(), argmax.data(), P, H, W,
                                   got.data());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), sizeof(float) * static_cast<size_t>(n)), 0) << H << "x" << W;
  }
}

TEST(PoolKernel, AverageCountsPaddingAsPyTorchDoes) {
  const kernels::PoolGeometry g{.H = 2, .W = 2, .K = 2, .stride = 2, .pad = 1};
  const float x[4] = {4, 8, 12, 16};
  float y[4];
  kernels::avgpool_forward(x, 1, g, y);
  EXPECT_EQ(std::vector<float>(y, y + 4), (std::vector<float>{1, 2, 3, 4}));
  const float dy[4] = {4, 4, 4, 4};
  float dx[4];
  kernels::avgpool_backward(dy, 1, g, dx);
  EXPECT_EQ(std::vector<float>(dx, dx + 4), (std::vector<float>{1, 1, 1, 1}));
}

}  // namespace
}  // namespace mnistcnn
