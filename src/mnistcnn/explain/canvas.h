// Canvas: an RGB raster for plots and heat-maps: anti-aliased lines (by exact coverage of
// a round-capped stroke), rectangles, images through colour maps, text in the built-in
// bitmap font, and atomic PNG output through io/png.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mnistcnn::explain {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
inline constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0};

enum class Colormap { Gray, Viridis, Inferno, Diverging };
// t in [0, 1] (clamped; NaN → 0). Diverging: blue (0) – white (0.5) – red (1).
Rgb colormap(Colormap map, float t);
Rgb mix(Rgb a, Rgb b, float t);  // a·(1−t) + b·t

enum class Align { Left, Center, Right };

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = kWhite);
  int width() const { return width_; }
  int height() const { return height_; }
  Rgb at(int x, int y) const;
  const std::vector<uint8_t>& rgb() const { return rgb_; }  // row-major, 3 bytes a pixel

  // Blends c over pixel (x, y) with opacity a; outside the canvas does nothing.
  void blend(int x, int y, Rgb c, float a = 1.0f);
  // Fills [x, x+w) × [y, y+h), rounded to whole pixels.
  void fill_rect(double x, double y, double w, double h, Rgb c, float alpha = 1.0f);
  void stroke_rect(double x, double y, double w, double h, Rgb c, double width = 1.0);
  // A segment of the given width with round caps, anti-aliased.
  void line(double x0, double y0, double x1, double y1, double width, Rgb c);
  void circle(double cx, double cy, double radius, Rgb c);
  // Text with its top at y; each font pixel becomes scale×scale pixels. Newlines start
  // a new line.
  void text(double x, double y, std::string_view s, int scale, Rgb c, Align align = Align::Left);
  static int text_width(std::string_view s, int scale);
  static int text_height(int scale);  // of one line, descenders included
  // An h×w map of values in [0, 1] through a colour map, each value a scale×scale block,
  // top-left at (x, y).
  void image(const float* v, int w, int h, int x, int y, int scale, Colormap map);

  void save_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

}  // namespace mnistcnn::explain
