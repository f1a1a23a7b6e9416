// Layers run inside the pass of the layer before them (a convolution or batch norm), on
// each plane of its output while that is in cache: nothing, a ReLU, or a ReLU then 2×2
// max pooling with stride 2. The results have the same bits as the layers run one by one
// (a convolution's backward through them may instead sum over the windows' maxima alone,
// kernels/conv_pooled.h: the same gradients up to rounding).
#pragma once
#include <cstdint>

namespace mnistcnn::kernels {

enum class Fuse { None = 0, Relu = 1, ReluMaxPool2 = 2 };  // the value: how many layers are fused

// Floats per output plane of H×W after the fused layers.
inline int64_t fused_plane_size(Fuse fuse, int64_t H, int64_t W) {
  return fuse == Fuse::ReluMaxPool2 ? (H / 2) * (W / 2) : H * W;
}

// The fused layers' backward (fuse is Relu or ReluMaxPool2) on P planes of H×W, in the
// calling thread: from the fused output y, the pooling's argmax (index within each H×W
// plane) and dy (both P planes of fused_plane_size), writes d (P×H×W), the gradient of
// the ReLU's input: what maxpool_backward then relu_backward give.
void fused_backward_planes(Fuse fuse, const float* dy, const float* y, const int32_t* argmax, int64_t P,
                           int64_t H, int64_t W, float* d);

}  // namespace mnistcnn::kernels
