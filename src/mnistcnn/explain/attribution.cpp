#include "mnistcnn/explain/attribution.h"

#include <algorithm>
#include <cmath>

#include "mnistcnn/core/error.h"

namespace mnistcnn::explain {

int gradcam_layer(const nn::Sequential& net) {
  int last = -1;
  for (size_t i = 0; i < net.logits_end(); ++i)
    if (net.layer(i).kind() == "conv") last = static_cast<int>(i);
  if (last < 0) return -1;
  const size_t next = static_cast<size_t>(last) + 1;
  if (next < net.logits_end()) {
    const std::string k = net.layer(next).kind();
    if (k == "relu" || k == "sigmoid" || k == "tanh") return static_cast<int>(next);
  }
  return last;
}

std::vector<float> upsample(const float* in, int h, int w, int oh, int ow) {
  std::vector<float> out(static_cast<size_t>(oh) * ow);
  auto coord = [](int j, int in_len, int out_len, int& i0, float& f) {
    const double s = std::clamp((j + 0.5) * in_len / out_len - 0.5, 0.0, double(in_len - 1));
    i0 = std::min(static_cast<int>(s), in_len - 1);
    f = static_cast<float>(s - i0);
  };
  for (int y = 0; y < oh; ++y) {
    int y0;
    float fy;
    coord(y, h, oh, y0, fy);
    const int y1 = std::min(y0 + 1, h - 1);
    for (int x = 0; x < ow; ++x) {
      int x0;
      float fx;
      coord(x, w, ow, x0, fx);
      const int x1 = std::min(x0 + 1, w - 1);
      const float top = in[y0 * w + x0] * (1 - fx) + in[y0 * w + x1] * fx;
      const float bottom = in[y1 * w + x0] * (1 - fx) + in[y1 * w + x1] * fx;
      out[static_cast<size_t>(y) * ow + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

void normalize_max(std::vector<float>& v) {
  float top = 0;
  for (float x : v) top = std::max(top, x);
  if (top > 0)
    for (float& x : v) x /= top;
}

Attribution attribute(nn::Sequential& net, const Tensor& x, int target) {
  if (x.shape().rank() != 4 || x.dim(0) != 1) throw Error("attribute: expects one image (1×C×H×W), got " + x.shape().str());
  const size_t end = net.logits_end();
  const Tensor& logits = net.forward(x, nn::Mode::Eval, end);
  if (logits.shape().rank() != 2 || target < 0 || target >= logits.dim(1))
    throw Error("attribute: class " + std::to_string(target) + " is not an output of a network ending in " +
                logits.shape().str());
  Tensor dout(logits.shape());  // d(logit of target)/d(logits): one-hot
  dout[target] = 1.0f;
  net.backward(dout, end, /*to_input=*/true);

  Attribution a;
  const int C = static_cast<int>(x.dim(1));
  a.height = static_cast<int>(x.dim(2));
  a.width = static_cast<int>(x.dim(3));
  const size_t hw = static_cast<size_t>(a.height) * a.width;
  const Tensor& g = net.input_grad();
  a.saliency.assign(hw, 0.0f);
  for (int c = 0; c < C; ++c)  // strongest channel per pixel
    for (size_t p = 0; p < hw; ++p) a.saliency[p] = std::max(a.saliency[p], std::abs(g[c * static_cast<int64_t>(hw) + static_cast<int64_t>(p)]));
  normalize_max(a.saliency);

  a.gradcam_layer = gradcam_layer(net);
  if (a.gradcam_layer < 0) return a;
  const Tensor& A = net.output(static_cast<size_t>(a.gradcam_layer));
  const Tensor& dA = net.output_grad(static_cast<size_t>(a.gradcam_layer));
  const int K = static_cast<int>(A.dim(1)), h = static_cast<int>(A.dim(2)), w = static_cast<int>(A.dim(3));
  std::vector<float> cam(static_cast<size_t>(h) * w, 0.0f);
  for (int k = 0; k < K; ++k) {
    const float* ak = A.data() + static_cast<int64_t>(k) * h * w;
    const float* gk = dA.data() + static_cast<int64_t>(k) * h * w;
    double alpha = 0;  // the channel's weight: its gradient averaged over positions
    for (int p = 0; p < h * w; ++p) alpha += gk[p];
    alpha /= h * w;
    for (int p = 0; p < h * w; ++p) cam[static_cast<size_t>(p)] += static_cast<float>(alpha) * ak[p];
  }
  for (float& v : cam) v = std::max(v, 0.0f);
  a.gradcam = upsample(cam.data(), h, w, a.height, a.width);
  normalize_max(a.gradcam);
  return a;
}

}  // namespace mnistcnn::explain
