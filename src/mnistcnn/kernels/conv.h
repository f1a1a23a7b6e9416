// Convolution as im2col + gemm, and a direct reference. Legend: N batch, C input channels,
// H W input size, OC output channels, KH KW kernel, S stride, P zero padding, OH OW output
// size, L = OH*OW output positions per sample, K = C*KH*KW patch length.
// The column matrix of a batch is K rows × (N*L) columns: sample n owns columns
// [n*L, (n+1)*L), so one gemm covers the whole batch.
#pragma once
#include <cstdint>

namespace mnistcnn::kernels {

struct ConvGeometry {
  int64_t C, H, W;        // input, per sample
  int64_t OC, KH, KW;
  int64_t stride, pad;
  int64_t OH() const { return (H + 2 * pad - KH) / stride + 1; }
  int64_t OW() const { return (W + 2 * pad - KW) / stride + 1; }
  int64_t L() const { return OH() * OW(); }
  int64_t K() const { return C * KH * KW; }
};

// x: one sample C×H×W. Writes its K×L block into col, whose rows are ld floats apart.
void im2col(const float* x, const ConvGeometry& g, float* col, int64_t ld);
// Inverse scatter of one sample's K×L block: dx (C×H×W) += col2im(col). Accumulates.
void col2im(const float* col, int64_t ld, const ConvGeometry& g, float* dx);

// Whole-batch forward: x N×C×H×W, w OC×K, b OC (or null) -> y N×OC×OH×OW (overwritten).
// col must hold K*N*L floats, tmp OC*N*L floats; col keeps the columns for backward.
void conv2d_forward(const float* x, const float* w, const float* b, const ConvGeometry& g,
                    int64_t N, float* col, float* tmp, float* y);
// Whole-batch backward from dy N×OC×OH×OW, with col as left by conv2d_forward.
// dw (OC×K) and db (OC) accumulate (skipped when null); dx (N×C×H×W) is overwritten
// (skipped when null). tmp must hold OC*N*L floats; col is reused as scratch for dx.
void conv2d_backward(const float* dy, const float* w, const ConvGeometry& g, int64_t N,
                     float* col, float* tmp, float* dw, float* db, float* dx);

// Direct seven-loop references with the same contracts (no col/tmp).
void conv2d_forward_ref(const float* x, const float* w, const float* b, const ConvGeometry& g,
                        int64_t N, float* y);
void conv2d_backward_ref(const float* x, const float* dy, const float* w, const ConvGeometry& g,
                         int64_t N, float* dw, float* db, float* dx);

}  // namespace mnistcnn::kernels
