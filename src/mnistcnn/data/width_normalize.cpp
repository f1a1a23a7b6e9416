#include "mnistcnn/data/width_normalize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "mnistcnn/core/error.h"

namespace mnistcnn::data {

InkColumns ink_columns(const float* img, int64_t H, int64_t W) {
  const float peak = *std::max_element(img, img + H * W);
  InkColumns c{W, -1};
  if (!(peak > 0.0f)) return c;
  const float threshold = 0.1f * peak;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      if (img[y * W + x] > threshold) {
        c.first = std::min(c.first, x);
        c.last = std::max(c.last, x);
      }
  return c;
}

namespace {

// weights[u·W + i]: how much source column i gives output column u, for the map that sends
// source x (pixel-edge coordinates: column i covers [i, i+1)) to W/2 + (x − from)·scale.
// Output column u takes the mean of the source over the interval it covers (area
// resampling): exact ink extents both ways, no aliasing when squeezing, the identity when
// nothing moves.
std::vector<float> column_weights(int64_t W, double from, double scale) {
  std::vector<float> w(static_cast<size_t>(W * W), 0.0f);
  const double centre = static_cast<double>(W) / 2.0;
  for (int64_t u = 0; u < W; ++u) {
    const double a = from + (static_cast<double>(u) - centre) / scale;
    const double b = from + (static_cast<double>(u) + 1.0 - centre) / scale;
    const auto lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(a)));
    const auto hi = std::min<int64_t>(W, static_cast<int64_t>(std::ceil(b)));
    for (int64_t i = lo; i < hi; ++i) {
      const double overlap = std::min(b, static_cast<double>(i + 1)) - std::max(a, static_cast<double>(i));
      if (overlap > 0) w[static_cast<size_t>(u * W + i)] = static_cast<float>(overlap / (b - a));
    }
  }
  return w;
}

}  // namespace

void normalize_width(const float* src, float* dst, int64_t H, int64_t W, int64_t width) {
  if (width < 1 || width > W)
    throw Error("width normalisation to " + std::to_string(width) + " pixels does not fit a " + std::to_string(W) +
                "-pixel-wide image");
  const InkColumns ink = ink_columns(src, H, W);
  if (ink.first > ink.last) {
    std::copy(src, src + H * W, dst);
    return;
  }
  const double left = static_cast<double>(ink.first), right = static_cast<double>(ink.last + 1);
  const std::vector<float> w = column_weights(W, (left + right) / 2.0, static_cast<double>(width) / (right - left));
  for (int64_t y = 0; y < H; ++y) {
    const float* s = src + y * W;
    float* d = dst + y * W;
    for (int64_t u = 0; u < W; ++u) {
      const float* wu = w.data() + u * W;
      float acc = 0.0f;
      for (int64_t i = 0; i < W; ++i) acc += wu[i] * s[i];
      d[u] = acc;
    }
  }
}

}  // namespace mnistcnn::data
