// Convolution as im2col + gemm, and a direct reference. Legend: N batch, C input channels,
// H W input size, OC output channels, KH KW kernel, S stride, P zero padding, OH OW output
// size, L = OH*OW output positions per sample, K = C*KH*KW patch length.
// Each sample's columns are a K×L matrix, so its output is one gemm: W (OC×K) · col.
// A single-channel input skips the columns where kernels/conv_direct.h applies (forward
// and weight gradient); 3×3 stride-1 layers with 16+ channels in and out use Winograd
// for batches of enough tiles (kernels/conv_winograd.h); strided layers with channels in
// multiples of 8 use direct kernels (kernels/conv_strided.h). A backward through a fused
// ReLU and 2×2 max pooling sums over the windows' maxima alone where
// kernels/conv_pooled.h applies.
#pragma once
#include <cstdint>

#include "mnistcnn/kernels/fuse.h"

namespace mnistcnn::kernels {

struct ConvGeometry {
  int64_t C, H, W;        // input, per sample
  int64_t OC, KH, KW;
  int64_t stride, pad;
  int64_t OH() const { return (H + 2 * pad - KH) / stride + 1; }
  int64_t OW() const { return (W + 2 * pad - KW) / stride + 1; }
  int64_t L() const { return OH() * OW(); }
  int64_t K() const { return C * KH * KW; }
  bool operator==(const ConvGeometry&) const = default;
};

// x: one sample C×H×W. Writes its K×L block into col, whose rows are ld floats apart.
void im2col(const float* x, const ConvGeometry& g, float* col, int64_t ld);
// Inverse scatter of one sample's K×L block: dx (C×H×W) = col2im(col). Overwrites.
void col2im(const float* col, int64_t ld, const ConvGeometry& g, float* dx);

// Which product layers use: Auto takes Winograd where winograd_applies(g, N) and the
// strided kernels where strided_conv_applies(g), and the pooled backward where
// pooled_backward_applies(g); Columns always builds columns (for
// side-by-side benchmarks and tests). Process-wide; set it between calls, not while a
// convolution runs, and size scratch after setting it.
enum class ConvAlgorithm { Auto, Columns };
void set_conv_algorithm(ConvAlgorithm a);
ConvAlgorithm conv_algorithm();

// Output size per sample: OC planes of the fused layers' size (kernels/fuse.h).
int64_t conv2d_output_size(const ConvGeometry& g, Fuse fuse);

// Batch forward: x N×C×H×W, w OC×K, b OC (or null) -> y N×(output size) (overwritten).
// Samples run in parallel, each as im2col into its thread's K×L block of scratch (which
// must hold conv2d_forward_scratch floats) and one gemm. Nothing is kept for backward:
// a batch's columns would be K/(C·S²) times the input (9x to 32x here), hundreds of MB
// written and read back from memory, while one sample's stay in cache. Fused layers
// (fuse) run on each sample's output after the bias; the pooling's argmax (laid out as
// y, indices within each OH×OW plane as maxpool_forward's) goes to argmax, if not null.
int64_t conv2d_forward_scratch(const ConvGeometry& g, int threads, Fuse fuse = Fuse::None);
void conv2d_forward(const float* x, const float* w, const float* b, const ConvGeometry& g,
                    int64_t N, float* scratch, float* y, Fuse fuse = Fuse::None,
                    int32_t* argmax = nullptr);

// Floats of scratch conv2d_backward needs for N samples with `threads` threads and the
// fused layers `fuse`.
int64_t conv2d_backward_scratch(const ConvGeometry& g, int64_t N, int threads, Fuse fuse = Fuse::None);
// Batch backward from dy and the forward's input x (whose columns it rebuilds one sample
// at a time). dw (OC×K) and db (OC) accumulate (skipped when null); dx (N×C×H×W) is
// overwritten (skipped when null). Weight gradients are summed per fixed chunk of samples
// and the chunks reduced in order, so the result does not depend on the thread count.
// With a fused forward, y and argmax are its outputs and dy is y's gradient: each
// sample's passes back through the pooling (maxpool_backward) and the ReLU
// (relu_backward) first, with the same bits as those layers; or, where the pooled
// backward applies (kernels/conv_pooled.h), the gradients sum over the windows' maxima
// alone, the same up to rounding.
void conv2d_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                     float* scratch, float* dw, float* db, float* dx, Fuse fuse = Fuse::None,
                     const float* y = nullptr, const int32_t* argmax = nullptr);

// Direct seven-loop references with the same contracts (no col/tmp).
void conv2d_forward_ref(const float* x, const float* w, const float* b, const ConvGeometry& g,
                        int64_t N, float* y);
void conv2d_backward_ref(const float* x, const float* dy, const float* w, const ConvGeometry& g,
                         int64_t N, float* dw, float* db, float* dx);

}  // namespace mnistcnn::kernels
