// Direct convolution of one input channel (a digit network's first layer), stride 1, no
// padding: each output vector sums KH·KW shifted input vectors times broadcast weights in
// registers, with no columns. For one channel the columns are KH·KW copies of the image
// (25 for a 5x5 kernel), writing them cost as much as the product, and a product with
// K = 9 or 25 is too thin for a gemm to run near its peak.
#pragma once
#include "mnistcnn/kernels/conv.h"

namespace mnistcnn::kernels {

// Whether the direct kernels take this geometry (otherwise: columns and gemm): one input
// channel, stride 1, no padding, output rows of at least 8 and kernels at most 8 wide, on
// a CPU with AVX2.
bool direct_conv_applies(const ConvGeometry& g);

// One sample: out (OC×OH×OW) = w (OC×KH×KW) ⋆ x (H×W), without bias, each output
// summing its KH·KW products in (kh, kw) order. Returns false, having done nothing, when
// direct_conv_applies(g) is false: the caller then builds columns.
bool direct_conv_forward(const float* x, const float* w, const ConvGeometry& g, float* out);

// One sample's weight gradient: dw (OC×KH×KW) = (accumulate ? dw : 0) + Σ over output
// positions of dy (OC×OH×OW) times the input under the kernel. Returns false, having
// done nothing, when direct_conv_applies(g) is false.
bool direct_conv_weight_grad(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw);

}  // namespace mnistcnn::kernels
