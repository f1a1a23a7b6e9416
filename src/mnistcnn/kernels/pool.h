// Pooling over planes. Legend: P = N*C planes, H W input, OH OW output, K window,
// S stride, PAD padding (max pooling pads with -inf, average pooling counts the padding,
// as PyTorch's defaults do).
#pragma once
#include <cstdint>

namespace mnistcnn::kernels {

struct PoolGeometry {
  int64_t H, W, K, stride, pad;
  int64_t OH() const { return (H + 2 * pad - K) / stride + 1; }
  int64_t OW() const { return (W + 2 * pad - K) / stride + 1; }
};

// y (P×OH×OW) = max over each window; argmax (P×OH×OW) records the winning input
// index within the plane (first maximum on ties) for backward.
void maxpool_forward(const float* x, int64_t P, const PoolGeometry& g, float* y, int32_t* argmax);
// 2×2 windows, stride 2, no padding, on P planes of H×W in the calling thread (the fast
// path of maxpool_forward, and a fused convolution's pooling). argmax may be null: no
// backward to follow.
void maxpool2x2_planes(const float* x, int64_t P, int64_t H, int64_t W, float* y, int32_t* argmax);
// The general window loop: the specification the 2×2 fast path is tested against.
void maxpool_forward_ref(const float* x, int64_t P, const PoolGeometry& g, float* y, int32_t* argmax);
// dx (P×H×W) is overwritten: each dy goes to its window's argmax.
void maxpool_backward(const float* dy, const int32_t* argmax, int64_t P, const PoolGeometry& g,
                      float* dx);

void avgpool_forward(const float* x, int64_t P, const PoolGeometry& g, float* y);
// dx (P×H×W) is overwritten: each dy is spread evenly over its window.
void avgpool_backward(const float* dy, int64_t P, const PoolGeometry& g, float* dx);

// Global average pooling: y[p] = mean of plane p's HW values (x P×HW, y P); backward
// overwrites dx (P×HW) with dy[p]/HW.
void global_avgpool_forward(const float* x, int64_t P, int64_t HW, float* y);
void global_avgpool_backward(const float* dy, int64_t P, int64_t HW, float* dx);

}  // namespace mnistcnn::kernels
