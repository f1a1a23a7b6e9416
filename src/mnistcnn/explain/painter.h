// Painter: one drawing interface with two outputs, a PNG (through Canvas) or an SVG file,
// so a plot is laid out once and written in either form. Text is measured with the
// bitmap font's metrics in both.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mnistcnn/explain/canvas.h"

namespace mnistcnn::explain {

using Points = std::vector<std::pair<double, double>>;

class Painter {
 public:
  virtual ~Painter() = default;
  virtual void rect(double x, double y, double w, double h, Rgb fill) = 0;
  virtual void polyline(const Points& points, double width, Rgb c, bool dashed = false) = 0;
  virtual void circle(double cx, double cy, double radius, Rgb c) = 0;
  // Top of the text at y; scale as Canvas::text.
  virtual void text(double x, double y, std::string_view s, int scale, Rgb c, Align align = Align::Left) = 0;
  // Writes the file atomically.
  virtual void save(const std::string& path) = 0;
};

// A PNG or SVG painter of width×height, chosen by the extension of `path` (.png, .svg);
// anything else is an Error naming the path.
std::unique_ptr<Painter> make_painter(const std::string& path, int width, int height);

}  // namespace mnistcnn::explain
