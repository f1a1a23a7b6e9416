// Winograd F(2×2, 3×3) for 3×3 convolutions with stride 1 and several input channels:
// each 2×2 block of outputs comes from a 4×4 input tile, and after the tiles and the
// filters are transformed (V = Bᵀ d B, U = G g Gᵀ) the products are 16 independent
// (OC×C)·(C×tiles) matrix products, 16 multiplications per 4 outputs and channel pair
// instead of 36 (forward: register blocks of our own, one block of output channels at a
// time; backward: gemm). The backward passes go through the same linear maps transposed: the output
// gradient becomes dM = A dy Aᵀ per tile, the weight gradient is Gᵀ (Σ dM ⊙ V) G and the
// input gradient B (U ⊙ dM) Bᵀ added back onto the overlapping tiles. Same contracts as
// conv2d_forward / conv2d_backward (kernels/conv.h), which call these where
// winograd_applies(g, N); results differ from the column path by rounding only.
#pragma once
#include <cstdint>

#include "mnistcnn/kernels/conv.h"

namespace mnistcnn::kernels {

// 3×3, stride 1, any padding, with at least 16 input and 16 output channels: below that
// the 16 products are too thin for a gemm to gain over the columns' 9x longer ones.
bool winograd_fits(const ConvGeometry& g);
// winograd_fits, and a batch of at least 72 tiles (N·⌈OH/2⌉·⌈OW/2⌉): one keras-mnist image
// (36 tiles) took 0.16 ms through Winograd against 0.11 ms through columns. A sample's
// result therefore depends on its batch's size by rounding (as with oneDNN's or cuDNN's
// own choice of algorithm by shape), never on the thread count.
bool winograd_applies(const ConvGeometry& g, int64_t N);

int64_t winograd_forward_scratch(const ConvGeometry& g, int threads, Fuse fuse);
void winograd_forward(const float* x, const float* w, const float* b, const ConvGeometry& g, int64_t N,
                      float* scratch, float* y, Fuse fuse, int32_t* argmax);

int64_t winograd_backward_scratch(const ConvGeometry& g, int64_t N, int threads);
void winograd_backward(const float* dy, const float* x, const float* w, const ConvGeometry& g, int64_t N,
                       float* scratch, float* dw, float* db, float* dx, Fuse fuse, const float* y,
                       const int32_t* argmax);

}  // namespace mnistcnn::kernels
