// The MNIST normalisation (LeCun et al.): size-normalise the digit into a 20×20 box
// keeping its aspect ratio, anti-aliased, then centre its mass in a 28×28 field. Run on an
// MNIST digit this returns the digit itself, which the tests check.
#include "mnistcnn/data/digit_image.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "mnistcnn/core/error.h"

namespace mnistcnn::data {

namespace {

constexpr int kSide = 28;
constexpr int kBox = 20;
constexpr float kMinInk = 0.1f;        // weaker contrast than this is not a digit
constexpr float kCropFraction = 0.05f;  // ink below 5% of the peak does not widen the crop

float median(std::vector<float> v) {
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// Step 1: composite over white when the visible ink is dark, over black when it is light,
// so a black stroke on a transparent canvas becomes black on white.
void flatten_alpha(std::vector<float>& v, const std::vector<float>& alpha) {
  if (alpha.empty() || std::all_of(alpha.begin(), alpha.end(), [](float a) { return a >= 1.0f; }))
    return;
  auto ink_mean = [&](float min_alpha) {
    double sum = 0, weight = 0;
    for (size_t i = 0; i < v.size(); ++i)
      if (alpha[i] >= min_alpha && alpha[i] > 0) {
        sum += double(alpha[i]) * v[i];
        weight += alpha[i];
      }
    return weight > 0 ? sum / weight : -1.0;
  };
  double ink = ink_mean(0.5f);  // fairly opaque pixels: the strokes themselves
  if (ink < 0) ink = ink_mean(0.0f);
  const float under = ink >= 0 && ink < 0.5 ? 1.0f : 0.0f;
  for (size_t i = 0; i < v.size(); ++i) {
    float a = std::clamp(alpha[i], 0.0f, 1.0f);
    v[i] = a * v[i] + (1 - a) * under;
  }
}

// The outermost ring of pixels, where the paper shows.
std::vector<float> border(const std::vector<float>& v, int w, int h) {
  std::vector<float> b;
  for (int x = 0; x < w; ++x) {
    b.push_back(v[x]);
    if (h > 1) b.push_back(v[size_t(h - 1) * w + x]);
  }
  for (int y = 1; y + 1 < h; ++y) {
    b.push_back(v[size_t(y) * w]);
    if (w > 1) b.push_back(v[size_t(y) * w + w - 1]);
  }
  return b;
}

// Resampling weights from in_len samples to out_len along one axis: exact box coverage when
// shrinking (each output averages the input interval it covers), bilinear when enlarging.
struct Tap {
  int src;
  float weight;
};
std::vector<std::vector<Tap>> axis_weights(int in_len, int out_len) {
  std::vector<std::vector<Tap>> taps(out_len);
  const double scale = double(in_len) / out_len;
  for (int j = 0; j < out_len; ++j) {
    if (out_len < in_len) {
      double lo = j * scale, hi = (j + 1) * scale;
      for (int i = int(std::floor(lo)); i < std::min(in_len, int(std::ceil(hi))); ++i) {
        double overlap = std::min(hi, i + 1.0) - std::max(lo, double(i));
        if (overlap > 0) taps[j].push_back({i, float(overlap / scale)});
      }
    } else {
      double s = std::clamp((j + 0.5) * scale - 0.5, 0.0, double(in_len - 1));
      int i0 = int(std::floor(s));
      float f = float(s - i0);
      taps[j].push_back({i0, 1 - f});
      if (f > 0) taps[j].push_back({i0 + 1, f});
    }
  }
  return taps;
}

// Separable resize of a w×h image to ow×oh.
std::vector<float> resize(const std::vector<float>& in, int w, int h, int ow, int oh) {
  auto wx = axis_weights(w, ow), wy = axis_weights(h, oh);
  std::vector<float> rows(size_t(ow) * h), out(size_t(ow) * oh);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < ow; ++x) {
      float s = 0;
      for (const Tap& t : wx[x]) s += t.weight * in[size_t(y) * w + t.src];
      rows[size_t(y) * ow + x] = s;
    }
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      float s = 0;
      for (const Tap& t : wy[y]) s += t.weight * rows[size_t(t.src) * ow + x];
      out[size_t(y) * ow + x] = s;
    }
  return out;
}

}  // namespace

DigitImage to_mnist_digit(const GrayImage& img) {
  const int w = img.width, h = img.height;
  const size_t n = size_t(std::max(w, 0)) * size_t(std::max(h, 0));
  if (w <= 0 || h <= 0 || img.value.size() != n || (!img.alpha.empty() && img.alpha.size() != n))
    throw Error("to_mnist_digit: image is " + std::to_string(w) + "x" + std::to_string(h) +
                " with " + std::to_string(img.value.size()) + " values and " +
                std::to_string(img.alpha.size()) + " alphas, expected " + std::to_string(n) +
                " of each");

  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)  // clamp to [0, 1]; NaN becomes 0
    v[i] = img.value[i] > 0 ? std::min(img.value[i], 1.0f) : 0.0f;
  flatten_alpha(v, img.alpha);

  // Step 2: the paper's level is the border's median and its noise 3 robust sigmas (MAD).
  // The ink is whichever side of the paper holds more contrast beyond the noise (a sum,
  // not an extreme, so one glint or speck cannot flip it); make it light, remove the paper.
  std::vector<float> ring = border(v, w, h);
  float paper = median(ring);
  for (float& x : ring) x = std::abs(x - paper);
  const float noise = 3 * 1.4826f * median(ring);
  double darker = 0, lighter = 0;
  for (float x : v) {
    darker += std::max(0.0f, paper - noise - x);
    lighter += std::max(0.0f, x - paper - noise);
  }
  if (darker > lighter) {
    for (float& x : v) x = 1 - x;
    paper = 1 - paper;
  }
  float peak = 0;
  for (float& x : v) {
    x = std::max(0.0f, x - paper - noise);
    peak = std::max(peak, x);
  }

  // Step 3: blank when the contrast is too weak or only a few specks stand out.
  DigitImage out;
  size_t strong = std::count_if(v.begin(), v.end(), [](float x) { return x >= kMinInk; });
  if (peak < kMinInk || strong < std::max<size_t>(1, n / 10000)) {
    out.blank = true;
    return out;
  }

  // Step 4: crop to the ink's bounding box.
  int x0 = w, x1 = -1, y0 = h, y1 = -1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (v[size_t(y) * w + x] > kCropFraction * peak) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  const int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  std::vector<float> crop(size_t(cw) * ch);
  for (int y = 0; y < ch; ++y)
    for (int x = 0; x < cw; ++x) crop[size_t(y) * cw + x] = v[size_t(y0 + y) * w + x0 + x];

  // Step 5: longer side to 20 px, aspect kept.
  const double scale = double(kBox) / std::max(cw, ch);
  const int ow = std::clamp(int(std::lround(cw * scale)), 1, kBox);
  const int oh = std::clamp(int(std::lround(ch * scale)), 1, kBox);
  std::vector<float> fit = resize(crop, cw, ch, ow, oh);

  // Step 6: centre of mass (pixel (r, c) at position (r, c), as MNIST's own digits average
  // 14.0) moved to (14, 14) by a whole-pixel shift, kept inside the frame.
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      double p = fit[size_t(y) * ow + x];
      mass += p, mx += p * x, my += p * y;
    }
  const int ox = std::clamp(int(std::lround(kSide / 2 - mx / mass)), 0, kSide - ow);
  const int oy = std::clamp(int(std::lround(kSide / 2 - my / mass)), 0, kSide - oh);

  // Step 7: strokes at full intensity, as MNIST's are.
  const float top = *std::max_element(fit.begin(), fit.end());
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      out.pixels[size_t(oy + y) * kSide + ox + x] = std::min(1.0f, fit[size_t(y) * ow + x] / top);
  return out;
}

DigitImage digit_from_mnist_bytes(const uint8_t* p784) {
  DigitImage d;
  bool any = false;
  for (size_t i = 0; i < d.pixels.size(); ++i) {
    d.pixels[i] = p784[i] / 255.0f;
    any = any || p784[i] != 0;
  }
  d.blank = !any;
  return d;
}

std::vector<uint8_t> to_bytes(const DigitImage& d) {
  std::vector<uint8_t> out(d.pixels.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(std::lround(std::clamp(d.pixels[i], 0.0f, 1.0f) * 255.0f));
  return out;
}

}  // namespace mnistcnn::data
