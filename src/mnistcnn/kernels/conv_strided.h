// Direct convolution for strided layers with channels in and out (the record network's
// 5x5 stride-2 "same" layers): a register block of 6 output positions times 16 channels,
// the weights packed with the vectorised channels innermost and each input value
// broadcast, with no columns. Those layers' columns are 6x the input, copied from phase
// rows in pieces of 12 and 4 floats and scattered back in backward (kernels/conv.cpp); for
// the 8x8 layer that copying took longer than the product (docs/BENCHMARKS.md).
#pragma once
#include <cstdint>

#include "mnistcnn/kernels/conv.h"

namespace mnistcnn::kernels {

// Whether these kernels take the geometry: stride 2 or more, input and output channels
// multiples of 8, on a CPU with AVX2 and FMA.
bool strided_conv_applies(const ConvGeometry& g);

// Floats of packed weights (either packing): OC·K.
int64_t strided_packed_size(const ConvGeometry& g);

// The two packings, called in a parallel region, share the work among its threads (an
// orphaned `omp for`, with its barrier); outside one, the calling thread does it all.
// Forward: wp = w (OC×K) packed in blocks of 16 (then 8) output channels, K×16 each.
void strided_pack_forward(const float* w, const ConvGeometry& g, float* wp);
// One sample: out (OC×OH×OW, without bias) = w ⋆ x (C×H×W), weights packed as above.
void strided_forward(const float* x, const float* wp, const ConvGeometry& g, float* out);

// Input gradient: wp = w packed in blocks of 16 (then 8) input channels, KH×KW×OC×16 each.
void strided_pack_input_grad(const float* w, const ConvGeometry& g, float* wp);
// One sample: dx (C×H×W, overwritten) from dy (OC×OH×OW), weights packed as above. Each
// input position sums over its taps only (a quarter of them for stride 2): no scatter.
void strided_input_grad(const float* dy, const float* wp, const ConvGeometry& g, float* dx);

// Weight gradient, in two steps so that the sum over a batch can be split by output
// channels and input channels (not by samples, which would need partial sums to add up):
// each sample is first laid out (its zero-bordered input and dy channels-last, in
// strided_weight_grad_layout_size floats), then work item i of strided_weight_grad_items
// adds its slice of dw (OC×K) += Σ over the N samples, in sample order.
int64_t strided_weight_grad_layout_size(const ConvGeometry& g);
void strided_weight_grad_layout(const float* dy, const float* x, const ConvGeometry& g, float* layout);
int64_t strided_weight_grad_items(const ConvGeometry& g);
void strided_weight_grad_item(const float* layouts, int64_t N, const ConvGeometry& g, int64_t item, float* dw);

}  // namespace mnistcnn::kernels
