// Backward of a convolution fused with a ReLU and 2×2 max pooling (stride 2), from the
// pooled gradient. Only each window's maximum, where the ReLU passed it, carries a
// gradient: at most a quarter of the convolution's outputs (lenet's second layer: 25 of
// 121 per plane). The weight, bias and input gradients sum over those alone, reading the
// input in channels-last order, where a window's patch is KH rows of KW·C contiguous
// floats, instead of writing the unpooled gradient whole and multiplying it as dense
// matrices (columns and gemm, or Winograd). The sums run in another order than the
// unfused layers' backward: the same gradients up to rounding.
#pragma once
#include "mnistcnn/kernels/conv.h"

namespace mnistcnn::kernels {

// Whether pooled_backward takes this geometry: AVX-512, kernels of 3 or 5 rows whose
// patch rows (KW·C floats) fill at least one vector and fit the registers (3 rows of 16
// to 96 floats, 5 of 16 to 64), and at least one pooling window.
bool pooled_backward_applies(const ConvGeometry& g);

// Floats of scratch pooled_backward needs for N samples with `threads` threads.
int64_t pooled_backward_scratch(const ConvGeometry& g, int64_t N, int threads);

// conv2d_backward's contract for Fuse::ReluMaxPool2: dy, y and argmax are the pooled
// gradient, output and argmax (index within each OH×OW plane); dw (OC×C×KH×KW) and db
// accumulate, dx is overwritten, each skipped when null. Weight and bias gradients are
// summed per chunk of samples and the chunks in order: the same bits for any thread count.
void pooled_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                     float* scratch, float* dw, float* db, float* dx, const float* y, const int32_t* argmax);

// The same backward for one input channel (a first layer, whose patch rows of KW floats
// are under a vector), stride 1, 3x3 or 5x5 kernels, without the input gradient: the
// lanes are 16 windows of a pooled row, reading the input split into even and odd columns.
// Takes a geometry with at least one window on AVX-512.
bool pooled_split_backward_applies(const ConvGeometry& g);
int64_t pooled_split_backward_scratch(const ConvGeometry& g, int64_t N, int threads);
// As pooled_backward, without dx; dw and db accumulate, each skipped when null.
void pooled_split_backward(const float* dy, const float* x, const ConvGeometry& g, int64_t N, float* scratch,
                           float* dw, float* db, const float* y, const int32_t* argmax);

}  // namespace mnistcnn::kernels
