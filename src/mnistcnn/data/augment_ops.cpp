#include "mnistcnn/data/augment_ops.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace mnistcnn::data {

AffineMap make_affine(int64_t H, int64_t W, float rotate_deg, float scale, float shear_deg, float tx, float ty) {
  constexpr double kRad = M_PI / 180.0;
  const double c = std::cos(rotate_deg * kRad), s = std::sin(rotate_deg * kRad);
  const double t = std::tan(shear_deg * kRad), inv = 1.0 / scale;
  // Forward (source -> output, about the centre): Rot·Shear·Scale with Rot = [[c, s], [−s, c]]
  // (counter-clockwise on screen, y pointing down) and Shear = [[1, t], [0, 1]]. Its
  // inverse, (1/scale)·Shear⁻¹·Rot⁻¹:
  AffineMap m;
  m.m00 = static_cast<float>(inv * (c - t * s));
  m.m01 = static_cast<float>(inv * (-s - t * c));
  m.m10 = static_cast<float>(inv * s);
  m.m11 = static_cast<float>(inv * c);
  m.cx = static_cast<float>(W - 1) / 2.0f;
  m.cy = static_cast<float>(H - 1) / 2.0f;
  m.tx = tx;
  m.ty = ty;
  return m;
}

void warp_bilinear(const float* src, float* dst, int64_t H, int64_t W, const AffineMap& m, const float* dx,
                   const float* dy) {
  const auto fw = static_cast<float>(W), fh = static_cast<float>(H);
  auto at = [&](int64_t y, int64_t x) { return y >= 0 && y < H && x >= 0 && x < W ? src[y * W + x] : 0.0f; };
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const int64_t i = y * W + x;
      const float px = static_cast<float>(x) + (dx ? dx[i] : 0.0f) - m.cx - m.tx;
      const float py = static_cast<float>(y) + (dy ? dy[i] : 0.0f) - m.cy - m.ty;
      const float sx = m.m00 * px + m.m01 * py + m.cx;
      const float sy = m.m10 * px + m.m11 * py + m.cy;
      if (!(sx > -1.0f && sx < fw && sy > -1.0f && sy < fh)) {  // also NaN
        dst[i] = 0.0f;
        continue;
      }
      const float fx0 = std::floor(sx), fy0 = std::floor(sy);
      const float ax = sx - fx0, ay = sy - fy0;
      const auto x0 = static_cast<int64_t>(fx0), y0 = static_cast<int64_t>(fy0);
      const float top = (1.0f - ax) * at(y0, x0) + ax * at(y0, x0 + 1);
      const float bottom = (1.0f - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1);
      dst[i] = (1.0f - ay) * top + ay * bottom;
    }
  }
}

void elastic_field(Rng& rng, int64_t H, int64_t W, float alpha, float sigma, float* dx, float* dy, float* tmp) {
  constexpr int64_t kMaxRadius = 64;
  const int64_t r = std::min<int64_t>(kMaxRadius, static_cast<int64_t>(std::ceil(4.0f * sigma)));
  std::array<float, 2 * kMaxRadius + 1> k{};
  double sum = 0.0;
  for (int64_t j = -r; j <= r; ++j) {
    k[j + r] = std::exp(-0.5f * static_cast<float>(j * j) / (sigma * sigma));
    sum += k[j + r];
  }
  // Normalised over the truncated support, as scipy's gaussian_filter.
  for (int64_t j = 0; j <= 2 * r; ++j) k[j] = static_cast<float>(k[j] / sum);
  for (float* field : {dx, dy}) {
    for (int64_t i = 0; i < H * W; ++i) field[i] = rng.uniform(-1.0f, 1.0f);
    for (int64_t y = 0; y < H; ++y)  // rows into tmp
      for (int64_t x = 0; x < W; ++x) {
        float s = 0.0f;
        for (int64_t j = std::max(-r, -x); j <= std::min(r, W - 1 - x); ++j) s += k[j + r] * field[y * W + x + j];
        tmp[y * W + x] = s;
      }
    for (int64_t y = 0; y < H; ++y)  // columns back into the field
      for (int64_t x = 0; x < W; ++x) {
        float s = 0.0f;
        for (int64_t j = std::max(-r, -y); j <= std::min(r, H - 1 - y); ++j) s += k[j + r] * tmp[(y + j) * W + x];
        field[y * W + x] = alpha * s;
      }
  }
}

namespace {
// The 3×3 cross (centre and 4-neighbours); outside the image counts as background.
template <class Pick>
void morph3x3(const float* src, float* dst, int64_t H, int64_t W, Pick pick) {
  auto at = [&](int64_t y, int64_t x) { return y >= 0 && y < H && x >= 0 && x < W ? src[y * W + x] : 0.0f; };
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      dst[y * W + x] = pick(pick(pick(at(y, x), at(y - 1, x)), pick(at(y + 1, x), at(y, x - 1))), at(y, x + 1));
}
}  // namespace

void erode3x3(const float* src, float* dst, int64_t H, int64_t W) {
  morph3x3(src, dst, H, W, [](float a, float b) { return std::min(a, b); });
}

void dilate3x3(const float* src, float* dst, int64_t H, int64_t W) {
  morph3x3(src, dst, H, W, [](float a, float b) { return std::max(a, b); });
}

void fill_rect(float* img, int64_t W, int64_t top, int64_t left, int64_t h, int64_t w, float value, Rng* rng) {
  for (int64_t y = top; y < top + h; ++y)
    for (int64_t x = left; x < left + w; ++x) img[y * W + x] = rng ? rng->uniform() : value;
}

}  // namespace mnistcnn::data
