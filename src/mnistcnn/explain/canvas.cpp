#include "mnistcnn/explain/canvas.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/font.h"
#include "mnistcnn/io/png.h"

namespace mnistcnn::explain {

namespace {

// Colour maps as evenly spaced stops, linearly interpolated. Viridis and inferno stops
// are matplotlib's maps sampled at 0, 0.2, ..., 1 (they are perceptually uniform and
// read in grey); the diverging map is ColorBrewer's 5-class RdBu, white in the middle.
using Stops = std::array<Rgb, 6>;
constexpr Stops kViridis = {{{68, 1, 84}, {65, 68, 135}, {42, 120, 142}, {34, 168, 132}, {122, 209, 81}, {253, 231, 37}}};
constexpr Stops kInferno = {{{0, 0, 4}, {66, 10, 104}, {147, 38, 103}, {221, 81, 58}, {252, 165, 10}, {252, 255, 164}}};
constexpr std::array<Rgb, 5> kDiverging = {{{33, 102, 172}, {103, 169, 207}, {247, 247, 247}, {239, 138, 98}, {178, 24, 43}}};

template <size_t N>
Rgb from_stops(const std::array<Rgb, N>& s, float t) {
  const float pos = t * static_cast<float>(s.size() - 1);
  const int i = std::min(static_cast<int>(pos), static_cast<int>(s.size()) - 2);
  return mix(s[static_cast<size_t>(i)], s[static_cast<size_t>(i) + 1], pos - static_cast<float>(i));
}

}  // namespace

Rgb mix(Rgb a, Rgb b, float t) {
  auto m = [t](uint8_t x, uint8_t y) {
    return static_cast<uint8_t>(std::lround(static_cast<float>(x) * (1 - t) + static_cast<float>(y) * t));
  };
  return {m(a.r, b.r), m(a.g, b.g), m(a.b, b.b)};
}

Rgb colormap(Colormap map, float t) {
  t = t > 0 ? std::min(t, 1.0f) : 0.0f;  // NaN → 0
  switch (map) {
    case Colormap::Gray: {
      const auto v = static_cast<uint8_t>(std::lround(t * 255));
      return {v, v, v};
    }
    case Colormap::Viridis: return from_stops(kViridis, t);
    case Colormap::Inferno: return from_stops(kInferno, t);
    case Colormap::Diverging: return from_stops(kDiverging, t);
  }
  return {};
}

Canvas::Canvas(int width, int height, Rgb background) : width_(width), height_(height) {
  if (width <= 0 || height <= 0 || int64_t{width} * height > (int64_t{1} << 26))
    throw Error("canvas: cannot draw on " + std::to_string(width) + "x" + std::to_string(height) + " pixels");
  rgb_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) rgb_[i] = background.r, rgb_[i + 1] = background.g, rgb_[i + 2] = background.b;
}

Rgb Canvas::at(int x, int y) const {
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  return {rgb_.at(i), rgb_.at(i + 1), rgb_.at(i + 2)};
}

void Canvas::blend(int x, int y, Rgb c, float a) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || !(a > 0)) return;
  uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
  const Rgb out = mix({p[0], p[1], p[2]}, c, std::min(a, 1.0f));
  p[0] = out.r, p[1] = out.g, p[2] = out.b;
}

void Canvas::fill_rect(double x, double y, double w, double h, Rgb c, float alpha) {
  const int x0 = std::max(0, static_cast<int>(std::lround(x))), y0 = std::max(0, static_cast<int>(std::lround(y)));
  const int x1 = std::min(width_, static_cast<int>(std::lround(x + w)));
  const int y1 = std::min(height_, static_cast<int>(std::lround(y + h)));
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) blend(xx, yy, c, alpha);
}

void Canvas::stroke_rect(double x, double y, double w, double h, Rgb c, double width) {
  fill_rect(x, y, w, width, c);
  fill_rect(x, y + h - width, w, width, c);
  fill_rect(x, y, width, h, c);
  fill_rect(x + w - width, y, width, h, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, double width, Rgb c) {
  const double r = width / 2, dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  const int xa = std::max(0, static_cast<int>(std::floor(std::min(x0, x1) - r - 1)));
  const int xb = std::min(width_ - 1, static_cast<int>(std::ceil(std::max(x0, x1) + r + 1)));
  const int ya = std::max(0, static_cast<int>(std::floor(std::min(y0, y1) - r - 1)));
  const int yb = std::min(height_ - 1, static_cast<int>(std::ceil(std::max(y0, y1) + r + 1)));
  for (int y = ya; y <= yb; ++y)
    for (int x = xa; x <= xb; ++x) {
      const double px = x + 0.5 - x0, py = y + 0.5 - y0;  // pixel centre, relative to the start
      const double t = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.0, 1.0) : 0.0;
      const double d = std::hypot(px - t * dx, py - t * dy);
      blend(x, y, c, static_cast<float>(std::clamp(r + 0.5 - d, 0.0, 1.0)));
    }
}

void Canvas::circle(double cx, double cy, double radius, Rgb c) { line(cx, cy, cx, cy, 2 * radius, c); }

int Canvas::text_width(std::string_view s, int scale) {
  size_t longest = 0, cur = 0;
  for (char ch : s) {
    cur = ch == '\n' ? 0 : cur + 1;
    longest = std::max(longest, cur);
  }
  return longest == 0 ? 0 : static_cast<int>(longest * kGlyphAdvance - 1) * scale;
}

int Canvas::text_height(int scale) { return kGlyphHeight * scale; }

void Canvas::text(double x, double y, std::string_view s, int scale, Rgb c, Align align) {
  int line_no = 0;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find('\n', start), s.size());
    const std::string_view ln = s.substr(start, end - start);
    double left = x;
    if (align == Align::Center) left -= text_width(ln, scale) / 2.0;
    if (align == Align::Right) left -= text_width(ln, scale);
    const int ox = static_cast<int>(std::lround(left)), oy = static_cast<int>(std::lround(y)) + line_no * (kGlyphHeight + 2) * scale;
    for (size_t i = 0; i < ln.size(); ++i)
      for (int gy = 0; gy < kGlyphHeight; ++gy)
        for (int gx = 0; gx < kGlyphWidth; ++gx)
          if (glyph_pixel(ln[i], gx, gy))
            fill_rect(ox + (static_cast<int>(i) * kGlyphAdvance + gx) * scale, oy + gy * scale, scale, scale, c);
    start = end + 1;
    ++line_no;
  }
}

void Canvas::image(const float* v, int w, int h, int x, int y, int scale, Colormap map) {
  for (int r = 0; r < h; ++r)
    for (int col = 0; col < w; ++col)
      fill_rect(x + col * scale, y + r * scale, scale, scale, colormap(map, v[static_cast<size_t>(r) * w + col]));
}

void Canvas::save_png(const std::string& path) const { io::write_png_rgb(path, width_, height_, rgb_.data()); }

}  // namespace mnistcnn::explain
