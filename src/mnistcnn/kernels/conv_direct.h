// Direct convolution of few input channels (a digit network's first layer, lenet's
// second), stride 1, no padding: each output vector sums C·KH·KW shifted input vectors
// times broadcast weights in registers, with no columns. For one channel the columns are
// KH·KW copies of the image (25 for a 5x5 kernel), writing them cost as much as the
// product, and a product with K = 9 or 25 is too thin for a gemm to run near its peak;
// lenet's 6 channels (K = 54, 16 outputs) are still too thin.
#pragma once
#include "mnistcnn/kernels/conv.h"

namespace mnistcnn::kernels {

// Products per output (C·KH·KW) up to which a forward of several input channels goes
// direct: lenet's second layer (54) ran 1.2x faster direct than as columns and gemm,
// fast99's (8 channels of 5x5: 200) 1.1x slower (Zen 5, batch 64, docs/BENCHMARKS.md).
inline constexpr int64_t kDirectMaxDepth = 64;

// Whether the direct forward takes this geometry (otherwise: columns and gemm): one input
// channel (on a CPU with AVX2) or, with AVX-512, several with at most kDirectMaxDepth
// products per output; stride 1, no padding, output rows of at least 8 and kernels at
// most 8 wide.
bool direct_conv_applies(const ConvGeometry& g);

// One sample: out (OC×OH×OW) = w (OC×C×KH×KW) ⋆ x (C×H×W), without bias, each output
// summing its C·KH·KW products in (c, kh, kw) order. Returns false, having done nothing,
// when direct_conv_applies(g) is false: the caller then builds columns.
bool direct_conv_forward(const float* x, const float* w, const ConvGeometry& g, float* out);

// One sample, with the bias, a ReLU and 2×2 max pooling (stride 2) fused: y (OC×⌊OH/2⌋×⌊OW/2⌋)
// and, when argmax is not null, each window's index of its maximum within the OH×OW plane;
// the same bits as direct_conv_forward then bias_and_fused with Fuse::ReluMaxPool2, without
// writing the full output. Needs AVX-512; returns false, having done nothing, when it or
// direct_conv_applies(g) is missing or OH < 2.
// With packed (direct_conv_pack_weights' copy of w, when it returned true), output
// channels run in vector lanes (conv_direct.cpp): the same bits.
bool direct_conv_pooled_forward(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y,
                                int32_t* argmax, const float* packed = nullptr);

// Writes w's copy (K×OC floats: each tap's output channels together) that the pooled
// forward keeps its output channels in vector lanes with, and returns true, where that
// applies: AVX-512, direct_conv_applies(g), several input channels, OC a multiple of 16 and
// at most OH·OW, OH and OW at least 2. Otherwise returns false, having done nothing.
bool direct_conv_pack_weights(const float* w, const ConvGeometry& g, float* packed);

// One sample's weight gradient for one input channel: dw (OC×KH×KW) = (accumulate ? dw : 0)
// + Σ over output positions of dy (OC×OH×OW) times the input under the kernel. Returns
// false, having done nothing, when C > 1 or direct_conv_applies(g) is false.
bool direct_conv_weight_grad(const float* dy, const float* x, const ConvGeometry& g, bool accumulate, float* dw);

}  // namespace mnistcnn::kernels
