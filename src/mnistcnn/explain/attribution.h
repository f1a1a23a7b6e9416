// Why a network chose a class, as maps over the input: saliency (the magnitude of the
// gradient of the class's logit with respect to each input pixel, Simonyan et al. 2013)
// and Grad-CAM on the last convolutional layer (Selvaraju et al. 2017).
#pragma once
#include <vector>

#include "mnistcnn/nn/sequential.h"

namespace mnistcnn::explain {

struct Attribution {
  int height = 0, width = 0;    // of the input
  std::vector<float> saliency;  // height×width, max 1 (all 0 when the gradient vanishes)
  std::vector<float> gradcam;   // height×width, upsampled, max 1; empty without a conv layer
  int gradcam_layer = -1;       // the layer whose output Grad-CAM weighed
};

// The layer Grad-CAM looks at: the last conv, or the activation right after it when
// there is one (Keras' conv layers include their activation); -1 when there is no conv.
int gradcam_layer(const nn::Sequential& net);

// x: 1×C×H×W, normalised as the model expects. Runs forward (Eval) and backward from the
// logit of class `target` down to the input on `net`'s own buffers; parameter gradients
// are accumulated unless the parameters are frozen (freeze them to save the work).
Attribution attribute(nn::Sequential& net, const Tensor& x, int target);

// Bilinear resize of one h×w map to oh×ow, pixel centres aligned (as image resizers do).
std::vector<float> upsample(const float* in, int h, int w, int oh, int ow);

// Scales v in place so its largest value is 1 (leaves all-zero maps alone).
void normalize_max(std::vector<float>& v);

}  // namespace mnistcnn::explain
