// Kernel benchmarks: gemm on the conv shapes of keras-mnist (the sgemm ceiling) and the
// conv layers' forward and backward, in GFLOP/s; whole-network inference of three presets
// (one image: the latency); the cost of entering an OpenMP region; a training step
// (forward, loss, backward) of lenet and keras-mnist. Every kernel is first checked
// against its reference on the same shapes; a mismatch aborts the run.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mnistcnn/core/rng.h"
#include "mnistcnn/kernels/conv.h"
#include "mnistcnn/kernels/fuse.h"
#include "mnistcnn/kernels/gemm.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/kernels/pool.h"
#include "mnistcnn/loss/cross_entropy.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/train/presets.h"

namespace {

using mnistcnn::kernels::ConvGeometry;

std::vector<float> random_vec(size_t n, uint64_t seed) {
  mnistcnn::Rng rng(seed, 0);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(-1, 1);
  return v;
}

void require_close(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::fabs(a[i] - b[i]) > 1e-3f + 1e-3f * std::fabs(b[i])) {
      std::fprintf(stderr, "%s: mismatch at %zu: %g vs reference %g\n", what, i, a[i], b[i]);
      std::abort();
    }
}

// keras-mnist's two convolutions.
const ConvGeometry kConv1{.C = 1, .H = 28, .W = 28, .OC = 32, .KH = 3, .KW = 3, .stride = 1, .pad = 0};
const ConvGeometry kLenetConv1{.C = 1, .H = 28, .W = 28, .OC = 6, .KH = 3, .KW = 3, .stride = 1, .pad = 0};
const ConvGeometry kLenetConv2{.C = 6, .H = 13, .W = 13, .OC = 16, .KH = 3, .KW = 3, .stride = 1, .pad = 0};
const ConvGeometry kConv2{.C = 32, .H = 13, .W = 13, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0};
// The record preset's 3x3 convolutions after its first: 26x26 -> 24x24 and 10x10 -> 8x8.
const ConvGeometry kRecordConv2{.C = 32, .H = 26, .W = 26, .OC = 32, .KH = 3, .KW = 3, .stride = 1, .pad = 0};
const ConvGeometry kRecordConv5{.C = 64, .H = 10, .W = 10, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 0};
// Its stride-2 5x5 convolutions, 24x24 -> 12x12 and 8x8 -> 4x4 (the strided kernels;
// columns from phase rows with /1).
const ConvGeometry kRecordConv3{.C = 32, .H = 24, .W = 24, .OC = 32, .KH = 5, .KW = 5, .stride = 2, .pad = 2};
const ConvGeometry kRecordConv6{.C = 64, .H = 8, .W = 8, .OC = 64, .KH = 5, .KW = 5, .stride = 2, .pad = 2};
// A padded ("same") 3x3 convolution.
const ConvGeometry kSameConv{.C = 32, .H = 14, .W = 14, .OC = 64, .KH = 3, .KW = 3, .stride = 1, .pad = 1};

// The gemm of conv2's forward for a batch of 32 as one product: the sgemm ceiling.
void BM_GemmConv2Shape(benchmark::State& state) {
  const int64_t M = kConv2.OC, N = 32 * kConv2.L(), K = kConv2.K();
  const auto A = random_vec(static_cast<size_t>(M * K), 1), B = random_vec(static_cast<size_t>(K * N), 2);
  std::vector<float> C(static_cast<size_t>(M * N)), C_ref(C.size());
  mnistcnn::kernels::gemm(false, false, M, N, K, 1, A.data(), K, B.data(), N, 0, C.data(), N);
  mnistcnn::kernels::gemm_ref(false, false, M, N, K, 1, A.data(), K, B.data(), N, 0, C_ref.data(), N);
  require_close(C, C_ref, "gemm");
  for (auto _ : state) {
    mnistcnn::kernels::gemm(false, false, M, N, K, 1, A.data(), K, B.data(), N, 0, C.data(), N);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// range(0): batch; with `choice`, range(1) = 1 forces columns and gemm
// (ConvAlgorithm::Columns), for a side-by-side with what Auto takes.
void conv_bench(benchmark::State& state, const ConvGeometry& g, bool backward, bool choice = false) {
  const int64_t N = state.range(0), L = g.L(), K = g.K();
  using mnistcnn::kernels::ConvAlgorithm;
  const int64_t forced = choice ? state.range(1) : 0;
  mnistcnn::kernels::set_conv_algorithm(forced == 1 ? ConvAlgorithm::Columns : ConvAlgorithm::Auto);
  state.SetLabel(forced == 1 ? "columns" : "auto");
  const auto x = random_vec(static_cast<size_t>(N * g.C * g.H * g.W), 1);
  const auto w = random_vec(static_cast<size_t>(g.OC * K), 2), b = random_vec(static_cast<size_t>(g.OC), 3);
  const auto dy = random_vec(static_cast<size_t>(N * g.OC * L), 4);
  std::vector<float> col(static_cast<size_t>(mnistcnn::kernels::conv2d_forward_scratch(g, mnistcnn::kernels::num_threads())));
  std::vector<float> y(static_cast<size_t>(N * g.OC * L)), y_ref(y.size());
  std::vector<float> scratch(static_cast<size_t>(mnistcnn::kernels::conv2d_backward_scratch(g, N, mnistcnn::kernels::num_threads())));
  std::vector<float> dw(static_cast<size_t>(g.OC * K)), db(static_cast<size_t>(g.OC)), dx(x.size());
  std::vector<float> dw_ref(dw.size()), db_ref(db.size()), dx_ref(dx.size());
  mnistcnn::kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, col.data(), y.data());
  mnistcnn::kernels::conv2d_forward_ref(x.data(), w.data(), b.data(), g, N, y_ref.data());
  require_close(y, y_ref, "conv2d_forward");
  mnistcnn::kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.data(), db.data(), dx.data());
  mnistcnn::kernels::conv2d_backward_ref(x.data(), dy.data(), w.data(), g, N, dw_ref.data(), db_ref.data(), dx_ref.data());
  require_close(dw, dw_ref, "conv2d_backward dw");
  require_close(dx, dx_ref, "conv2d_backward dx");
  for (auto _ : state) {
    if (backward)
      mnistcnn::kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.data(), db.data(),
                                         g.C == 1 ? nullptr : dx.data());
    else
      mnistcnn::kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, col.data(), y.data());
    benchmark::ClobberMemory();
  }
  // Backward computes dW and (except for the first layer) dx: two products of the forward's size.
  const double flops = 2.0 * N * g.OC * L * K * (backward ? (g.C == 1 ? 1 : 2) : 1);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  mnistcnn::kernels::set_conv_algorithm(mnistcnn::kernels::ConvAlgorithm::Auto);
}

// The forward with the ReLU and 2×2 max pooling fused (Sequential's pattern conv relu
// maxpool(2)); range(1) = 1 keeps the pooling argmax as training does, 0 is inference.
void pooled_conv_bench(benchmark::State& state, const ConvGeometry& g) {
  using mnistcnn::kernels::Fuse;
  const int64_t N = state.range(0), out = N * g.OC * (g.OH() / 2) * (g.OW() / 2);
  const bool train = state.range(1) == 1;
  state.SetLabel(train ? "with argmax" : "inference");
  const auto x = random_vec(static_cast<size_t>(N * g.C * g.H * g.W), 1);
  const auto w = random_vec(static_cast<size_t>(g.OC * g.K()), 2), b = random_vec(static_cast<size_t>(g.OC), 3);
  std::vector<float> scratch(static_cast<size_t>(
      mnistcnn::kernels::conv2d_forward_scratch(g, mnistcnn::kernels::num_threads(), Fuse::ReluMaxPool2)));
  std::vector<float> y(static_cast<size_t>(out)), full(static_cast<size_t>(N * g.OC * g.L()));
  std::vector<float> y_ref(y.size());
  std::vector<int32_t> argmax(y.size()), argmax_ref(y.size());
  mnistcnn::kernels::conv2d_forward_ref(x.data(), w.data(), b.data(), g, N, full.data());
  for (auto& v : full) v = v > 0.0f ? v : 0.0f;
  mnistcnn::kernels::maxpool_forward_ref(full.data(), N * g.OC, {g.OH(), g.OW(), 2, 2, 0}, y_ref.data(),
                                         argmax_ref.data());
  int32_t* at = train ? argmax.data() : nullptr;
  mnistcnn::kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, scratch.data(), y.data(), Fuse::ReluMaxPool2,
                                    at);
  require_close(y, y_ref, "conv2d_forward fused with relu and max pooling");
  for (auto _ : state) {
    mnistcnn::kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, scratch.data(), y.data(), Fuse::ReluMaxPool2,
                                      at);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * N * g.OC * g.L() * g.K(),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// The backward through the fused ReLU and 2×2 max pooling, from the pooled gradient, as
// training runs it: range(1) = 0 takes what Auto takes (the windows' maxima alone, where
// kernels/conv_pooled.h applies), 1 the unpooled gradient written whole, then columns and
// gemm (or the direct weight gradient of a first layer). A first layer computes no dx.
void pooled_backward_bench(benchmark::State& state, const ConvGeometry& g) {
  using mnistcnn::kernels::ConvAlgorithm;
  using mnistcnn::kernels::Fuse;
  const int64_t N = state.range(0), P = N * g.OC, out = P * (g.OH() / 2) * (g.OW() / 2), K = g.K();
  const bool columns = state.range(1) == 1;
  state.SetLabel(columns ? "unpooled, columns" : "auto");
  const auto x = random_vec(static_cast<size_t>(N * g.C * g.H * g.W), 1);
  const auto w = random_vec(static_cast<size_t>(g.OC * K), 2), b = random_vec(static_cast<size_t>(g.OC), 3);
  const auto dy = random_vec(static_cast<size_t>(out), 4);
  std::vector<float> fwd(static_cast<size_t>(
      mnistcnn::kernels::conv2d_forward_scratch(g, mnistcnn::kernels::num_threads(), Fuse::ReluMaxPool2)));
  std::vector<float> y(static_cast<size_t>(out)), d(static_cast<size_t>(P * g.L()));
  std::vector<int32_t> argmax(y.size());
  mnistcnn::kernels::conv2d_forward(x.data(), w.data(), b.data(), g, N, fwd.data(), y.data(), Fuse::ReluMaxPool2,
                                    argmax.data());
  mnistcnn::kernels::fused_backward_planes(Fuse::ReluMaxPool2, dy.data(), y.data(), argmax.data(), P, g.OH(), g.OW(),
                                           d.data());
  std::vector<float> dw(static_cast<size_t>(g.OC * K)), db(static_cast<size_t>(g.OC)), dx(x.size());
  std::vector<float> dw_ref(dw.size()), db_ref(db.size()), dx_ref(dx.size());
  mnistcnn::kernels::conv2d_backward_ref(x.data(), d.data(), w.data(), g, N, dw_ref.data(), db_ref.data(),
                                         dx_ref.data());
  mnistcnn::kernels::set_conv_algorithm(columns ? ConvAlgorithm::Columns : ConvAlgorithm::Auto);
  std::vector<float> scratch(static_cast<size_t>(mnistcnn::kernels::conv2d_backward_scratch(
      g, N, mnistcnn::kernels::num_threads(), Fuse::ReluMaxPool2)));
  float* dx_or_null = g.C == 1 ? nullptr : dx.data();
  mnistcnn::kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.data(), db.data(),
                                     dx_or_null, Fuse::ReluMaxPool2, y.data(), argmax.data());
  require_close(dw, dw_ref, "pooled backward dw");
  require_close(db, db_ref, "pooled backward db");
  if (dx_or_null) require_close(dx, dx_ref, "pooled backward dx");
  for (auto _ : state) {
    mnistcnn::kernels::conv2d_backward(dy.data(), x.data(), w.data(), g, N, scratch.data(), dw.data(), db.data(),
                                       dx_or_null, Fuse::ReluMaxPool2, y.data(), argmax.data());
    benchmark::ClobberMemory();
  }
  // The dense products' count (dW, and dx but for a first layer), as conv_bench: a rate to compare the two ways.
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * N * g.OC * g.L() * K * (g.C == 1 ? 1 : 2),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  mnistcnn::kernels::set_conv_algorithm(ConvAlgorithm::Auto);
}

void BM_Conv1BackwardPooled(benchmark::State& s) { pooled_backward_bench(s, kConv1); }
void BM_Conv2BackwardPooled(benchmark::State& s) { pooled_backward_bench(s, kConv2); }
void BM_LenetConv1BackwardPooled(benchmark::State& s) { pooled_backward_bench(s, kLenetConv1); }
void BM_LenetConv2BackwardPooled(benchmark::State& s) { pooled_backward_bench(s, kLenetConv2); }
void BM_Conv1ForwardPooled(benchmark::State& s) { pooled_conv_bench(s, kConv1); }
void BM_LenetConv1ForwardPooled(benchmark::State& s) { pooled_conv_bench(s, kLenetConv1); }
void BM_LenetConv2ForwardPooled(benchmark::State& s) { pooled_conv_bench(s, kLenetConv2); }
void BM_Conv1Forward(benchmark::State& s) { conv_bench(s, kConv1, false); }
void BM_Conv1Backward(benchmark::State& s) { conv_bench(s, kConv1, true); }
void BM_LenetConv1Forward(benchmark::State& s) { conv_bench(s, kLenetConv1, false); }
void BM_LenetConv1Backward(benchmark::State& s) { conv_bench(s, kLenetConv1, true); }
void BM_Conv2Forward(benchmark::State& s) { conv_bench(s, kConv2, false, true); }
void BM_Conv2Backward(benchmark::State& s) { conv_bench(s, kConv2, true, true); }
void BM_RecordConv2Forward(benchmark::State& s) { conv_bench(s, kRecordConv2, false, true); }
void BM_RecordConv2Backward(benchmark::State& s) { conv_bench(s, kRecordConv2, true, true); }
void BM_RecordConv5Forward(benchmark::State& s) { conv_bench(s, kRecordConv5, false, true); }
void BM_RecordConv5Backward(benchmark::State& s) { conv_bench(s, kRecordConv5, true, true); }
void BM_RecordConv3Forward(benchmark::State& s) { conv_bench(s, kRecordConv3, false, true); }
void BM_RecordConv3Backward(benchmark::State& s) { conv_bench(s, kRecordConv3, true, true); }
void BM_RecordConv6Forward(benchmark::State& s) { conv_bench(s, kRecordConv6, false, true); }
void BM_RecordConv6Backward(benchmark::State& s) { conv_bench(s, kRecordConv6, true, true); }
void BM_SameConvForward(benchmark::State& s) { conv_bench(s, kSameConv, false, true); }
void BM_SameConvBackward(benchmark::State& s) { conv_bench(s, kSameConv, true, true); }

BENCHMARK(BM_GemmConv2Shape)->UseRealTime();
BENCHMARK(BM_Conv1Forward)->Arg(32)->Arg(256)->UseRealTime();
BENCHMARK(BM_Conv1ForwardPooled)->Args({256, 0})->Args({256, 1})->UseRealTime();
BENCHMARK(BM_LenetConv1ForwardPooled)->Args({256, 0})->Args({256, 1})->UseRealTime();
BENCHMARK(BM_LenetConv2ForwardPooled)->Args({256, 0})->Args({256, 1})->UseRealTime();
BENCHMARK(BM_Conv1Backward)->Arg(32)->UseRealTime();
BENCHMARK(BM_Conv1BackwardPooled)->Args({32, 0})->Args({32, 1})->UseRealTime();
BENCHMARK(BM_Conv2BackwardPooled)->Args({32, 0})->Args({32, 1})->UseRealTime();
BENCHMARK(BM_LenetConv1BackwardPooled)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_LenetConv2BackwardPooled)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_LenetConv1Forward)->Arg(64)->UseRealTime();
BENCHMARK(BM_LenetConv1Backward)->Arg(64)->UseRealTime();
BENCHMARK(BM_Conv2Forward)->Args({32, 0})->Args({32, 1})->Args({256, 0})->Args({256, 1})->UseRealTime();
BENCHMARK(BM_Conv2Backward)->Args({32, 0})->Args({32, 1})->UseRealTime();
BENCHMARK(BM_RecordConv2Forward)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_RecordConv2Backward)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_RecordConv5Forward)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_RecordConv5Backward)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_RecordConv3Forward)->Args({1, 0})->Args({1, 1})->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_RecordConv3Backward)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_RecordConv6Forward)->Args({1, 0})->Args({1, 1})->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_RecordConv6Backward)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_SameConvForward)->Args({64, 0})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_SameConvBackward)->Args({64, 0})->Args({64, 1})->UseRealTime();

// A preset network's forward pass (inference, as `predict` and `serve` run it) on N
// images with the current thread count; N = 1 is the single-image latency. Checked
// against the Eval-mode forward that training uses. With `choice`, range(1) = 1 forces
// columns for its 3x3 layers, as conv_bench.
void network_bench(benchmark::State& state, const char* preset, bool choice = false) {
  const int64_t N = state.range(0);
  const bool columns = choice && state.range(1) == 1;
  mnistcnn::kernels::set_conv_algorithm(columns ? mnistcnn::kernels::ConvAlgorithm::Columns
                                                : mnistcnn::kernels::ConvAlgorithm::Auto);
  state.SetLabel(columns ? "columns" : "auto");
  mnistcnn::nn::Sequential net = mnistcnn::nn::Sequential::from_spec(mnistcnn::train::find_preset(preset)->spec);
  net.init(mnistcnn::nn::Init::Torch, 1);
  mnistcnn::Tensor x({N, 1, 28, 28});
  const auto pixels = random_vec(static_cast<size_t>(x.numel()), 5);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 0.5f + 0.5f * pixels[static_cast<size_t>(i)];
  const mnistcnn::Tensor& ref_t = net.forward(x, mnistcnn::nn::Mode::Eval);
  const std::vector<float> ref(ref_t.data(), ref_t.data() + ref_t.numel());
  const mnistcnn::Tensor& out_t = net.infer(x);
  require_close(std::vector<float>(out_t.data(), out_t.data() + out_t.numel()), ref, preset);
  for (auto _ : state) {
    benchmark::DoNotOptimize(net.infer(x).data());
    benchmark::ClobberMemory();
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
  mnistcnn::kernels::set_conv_algorithm(mnistcnn::kernels::ConvAlgorithm::Auto);
}
void BM_KerasMnistInference(benchmark::State& s) { network_bench(s, "keras-mnist", true); }
void BM_LenetInference(benchmark::State& s) { network_bench(s, "lenet"); }
void BM_RecordInference(benchmark::State& s) { network_bench(s, "record"); }
BENCHMARK(BM_KerasMnistInference)
    ->Args({1, 0})->Args({2, 0})->Args({4, 0})->Args({8, 0})->Args({16, 0})->Args({1, 1})->Args({256, 0})->Args({256, 1})
    ->UseRealTime();
BENCHMARK(BM_LenetInference)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_RecordInference)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(64)->UseRealTime();

// A training step of a preset network without the optimizer (forward, loss, backward)
// on a batch of range(0): where a step's time goes apart from data loading and updates.
void train_step_bench(benchmark::State& state, const char* preset) {
  namespace nn = mnistcnn::nn;
  const int64_t N = state.range(0);
  nn::Sequential net = nn::Sequential::from_spec(mnistcnn::train::find_preset(preset)->spec);
  net.init(nn::Init::Torch, 1);
  mnistcnn::Tensor x({N, 1, 28, 28}), dlogits;
  const auto pixels = random_vec(static_cast<size_t>(x.numel()), 5);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = 0.5f + 0.5f * pixels[static_cast<size_t>(i)];
  std::vector<int32_t> labels(static_cast<size_t>(N));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % 10);
  const size_t end = net.logits_end();
  for (auto _ : state) {
    net.zero_grad();
    mnistcnn::loss::cross_entropy(net.forward(x, nn::Mode::Train, end), labels, &dlogits);
    net.backward(dlogits, end);
    benchmark::ClobberMemory();
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
}
// What entering an OpenMP parallel region costs when it runs one thread (a thread count
// of one, or an if clause that is false), against kernels::parallel_region, which then
// runs the body in the caller.
void BM_OmpRegionOneThread(benchmark::State& state) {
  const mnistcnn::kernels::ThreadCountScope one(1);
  for (auto _ : state) {
#pragma omp parallel
    benchmark::DoNotOptimize(omp_get_thread_num());
  }
}
void BM_OmpRegionIfFalse(benchmark::State& state) {
  const volatile bool worth = false;
  for (auto _ : state) {
#pragma omp parallel if (worth)
    benchmark::DoNotOptimize(omp_get_thread_num());
  }
}
void BM_OmpRegionNestedOneThread(benchmark::State& state) {
  // Each thread of a team of two enters 100 one-thread regions of its own.
  for (auto _ : state) {
#pragma omp parallel num_threads(2)
    {
      const mnistcnn::kernels::ThreadCountScope one(1);
      for (int i = 0; i < 100; ++i) {
#pragma omp parallel
        benchmark::DoNotOptimize(omp_get_thread_num());
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
void BM_ParallelRegionOneThread(benchmark::State& state) {
  const mnistcnn::kernels::ThreadCountScope one(1);
  for (auto _ : state)
    mnistcnn::kernels::parallel_region(true, [] { benchmark::DoNotOptimize(omp_get_thread_num()); });
}
BENCHMARK(BM_OmpRegionOneThread)->UseRealTime();
BENCHMARK(BM_OmpRegionIfFalse)->UseRealTime();
BENCHMARK(BM_OmpRegionNestedOneThread)->UseRealTime();
BENCHMARK(BM_ParallelRegionOneThread)->UseRealTime();

void BM_LenetTrainStep(benchmark::State& s) { train_step_bench(s, "lenet"); }
void BM_KerasMnistTrainStep(benchmark::State& s) { train_step_bench(s, "keras-mnist"); }
BENCHMARK(BM_LenetTrainStep)->Arg(64)->UseRealTime();
BENCHMARK(BM_KerasMnistTrainStep)->Arg(32)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
