#include "mnistcnn/explain/painter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/font.h"
#include "mnistcnn/io/file.h"

namespace mnistcnn::explain {

namespace {

constexpr double kDash = 8, kGap = 5;

class RasterPainter : public Painter {
 public:
  RasterPainter(int w, int h) : canvas_(w, h) {}
  void rect(double x, double y, double w, double h, Rgb fill) override { canvas_.fill_rect(x, y, w, h, fill); }
  void polyline(const Points& p, double width, Rgb c, bool dashed) override {
    double phase = 0;  // distance along the dash pattern, carried across vertices
    for (size_t i = 1; i < p.size(); ++i) {
      const auto [x0, y0] = p[i - 1];
      const auto [x1, y1] = p[i];
      const double len = std::hypot(x1 - x0, y1 - y0);
      if (!dashed || len == 0) {
        canvas_.line(x0, y0, x1, y1, width, c);
        continue;
      }
      for (double s = 0; s < len;) {
        const double in_period = std::fmod(phase, kDash + kGap);
        const bool on = in_period < kDash;
        const double step = std::min(len - s, on ? kDash - in_period : kDash + kGap - in_period);
        if (on) canvas_.line(x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len, x0 + (x1 - x0) * (s + step) / len,
                             y0 + (y1 - y0) * (s + step) / len, width, c);
        s += step, phase += step;
      }
    }
  }
  void circle(double cx, double cy, double r, Rgb c) override { canvas_.circle(cx, cy, r, c); }
  void text(double x, double y, std::string_view s, int scale, Rgb c, Align a) override { canvas_.text(x, y, s, scale, c, a); }
  void save(const std::string& path) override { canvas_.save_png(path); }

 private:
  Canvas canvas_;
};

std::string hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '&') out += "&amp;";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '"') out += "&quot;";
    else if (static_cast<unsigned char>(ch) >= 0x20 || ch == '\n') out += ch;
  }
  return out;
}

class SvgPainter : public Painter {
 public:
  SvgPainter(int w, int h) {
    body_ = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) + "\" height=\"" +
            std::to_string(h) + "\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) + "\">\n" +
            "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  }
  void rect(double x, double y, double w, double h, Rgb fill) override {
    body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
             "\" fill=\"" + hex(fill) + "\"/>\n";
  }
  void polyline(const Points& p, double width, Rgb c, bool dashed) override {
    std::string pts;
    for (const auto& [x, y] : p) pts += num(x) + "," + num(y) + " ";
    body_ += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + hex(c) + "\" stroke-width=\"" + num(width) +
             "\" stroke-linecap=\"round\" stroke-linejoin=\"round\"" +
             (dashed ? " stroke-dasharray=\"" + num(kDash) + " " + num(kGap) + "\"" : std::string()) + "/>\n";
  }
  void circle(double cx, double cy, double r, Rgb c) override {
    body_ += "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) + "\" fill=\"" + hex(c) + "\"/>\n";
  }
  void text(double x, double y, std::string_view s, int scale, Rgb c, Align a) override {
    const char* anchor = a == Align::Left ? "start" : a == Align::Center ? "middle" : "end";
    // A monospace font of size 10·scale advances about 6·scale, as the bitmap font does.
    double line_y = y + kGlyphAscent * scale;
    size_t start = 0;
    while (start <= s.size()) {
      const size_t end = std::min(s.find('\n', start), s.size());
      body_ += "<text x=\"" + num(x) + "\" y=\"" + num(line_y) + "\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"" +
               num(10.0 * scale) + "\" fill=\"" + hex(c) + "\" text-anchor=\"" + anchor + "\">" +
               escape(s.substr(start, end - start)) + "</text>\n";
      start = end + 1;
      line_y += (kGlyphHeight + 2) * scale;
    }
  }
  void save(const std::string& path) override {
    const std::string doc = body_ + "</svg>\n";
    io::write_file_atomic(path, {reinterpret_cast<const uint8_t*>(doc.data()), doc.size()});
  }

 private:
  std::string body_;
};

bool ends_with(const std::string& s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

}  // namespace

std::unique_ptr<Painter> make_painter(const std::string& path, int width, int height) {
  if (ends_with(path, ".png")) return std::make_unique<RasterPainter>(width, height);
  if (ends_with(path, ".svg")) return std::make_unique<SvgPainter>(width, height);
  throw Error(path + ": cannot tell the image format from the name", "end it in .png or .svg");
}

}  // namespace mnistcnn::explain
