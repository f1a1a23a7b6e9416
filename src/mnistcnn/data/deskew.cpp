#include "mnistcnn/data/deskew.h"

#include <algorithm>
#include <cmath>

#include "mnistcnn/data/augment_ops.h"

namespace mnistcnn::data {

namespace {
struct Moments {
  double mass = 0, mean_x = 0, mean_y = 0, var_y = 0, cov_xy = 0;
};

Moments moments(const float* img, int64_t H, int64_t W) {
  Moments m;
  double sx = 0, sy = 0;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const double v = img[y * W + x];
      m.mass += v;
      sx += v * static_cast<double>(x);
      sy += v * static_cast<double>(y);
    }
  if (!(m.mass > 0)) return m;
  m.mean_x = sx / m.mass;
  m.mean_y = sy / m.mass;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const double v = img[y * W + x], dx = static_cast<double>(x) - m.mean_x, dy = static_cast<double>(y) - m.mean_y;
      m.var_y += v * dy * dy;
      m.cov_xy += v * dx * dy;
    }
  m.var_y /= m.mass;
  m.cov_xy /= m.mass;
  return m;
}
// Below a hundredth of a pixel's spread the ink is one row: there is no slant to see.
float slant(const Moments& m) { return m.var_y > 1e-4 ? static_cast<float>(m.cov_xy / m.var_y) : 0.0f; }
}  // namespace

float skew(const float* img, int64_t H, int64_t W) { return slant(moments(img, H, W)); }

void deskew(const float* src, float* dst, int64_t H, int64_t W) {
  const Moments m = moments(src, H, W);
  const float alpha = slant(m);
  if (alpha == 0.0f) {
    std::copy(src, src + H * W, dst);
    return;
  }
  // warp_bilinear reads (m00·x' + m01·y' + cx, m10·x' + m11·y' + cy) with x' = x − cx,
  // y' = y − cy: the identity plus m01 = alpha about the centroid row.
  AffineMap map;
  map.m01 = alpha;
  map.cx = static_cast<float>(m.mean_x);
  map.cy = static_cast<float>(m.mean_y);
  warp_bilinear(src, dst, H, W, map, nullptr, nullptr);
}

}  // namespace mnistcnn::data
