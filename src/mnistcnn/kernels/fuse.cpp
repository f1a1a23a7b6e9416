#include "mnistcnn/kernels/fuse.h"

#include <cstring>

namespace mnistcnn::kernels {

void fused_backward_planes(Fuse fuse, const float* dy, const float* y, const int32_t* argmax, int64_t P,
                           int64_t H, int64_t W, float* d) {
  const int64_t plane = H * W;
  if (fuse == Fuse::Relu) {
    for (int64_t i = 0; i < P * plane; ++i) {
      const float v = dy[i];  // read either way: a plain select vectorises, a guarded read does not
      d[i] = y[i] > 0.0f ? v : 0.0f;
    }
    return;
  }
  // Max pooling puts 0 + dy at each window's argmax (windows do not overlap) and zero
  // elsewhere; the ReLU keeps it where its output, the window's maximum, is positive.
  // A select, not a branch: the sign of y is a coin toss to the branch predictor.
  std::memset(d, 0, sizeof(float) * static_cast<size_t>(P * plane));
  const int64_t pooled = fused_plane_size(fuse, H, W);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t j = 0; j < pooled; ++j) {
      const int64_t i = p * pooled + j;
      const float v = 0.0f + dy[i];
      d[p * plane + argmax[i]] = y[i] > 0.0f ? v : 0.0f;
    }
}

}  // namespace mnistcnn::kernels
