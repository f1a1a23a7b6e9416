#include "mnistcnn/data/normalize.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <algorithm>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/deskew.h"
#include "mnistcnn/data/width_normalize.h"

namespace mnistcnn::data {

namespace {
const char* const kHint =
    "use scale (pixels/255), standardize (mean 0.1307, std 0.3081) or MEAN,STD with STD > 0, "
    "optionally followed by +deskew and then +width=N (N pixels, 1 to 4096)";
}

Normalization Normalization::parse(const std::string& full) {
  std::string text = full;
  int64_t width = 0;
  static const std::string kWidth = "+width=";
  if (const auto at = text.rfind(kWidth); at != std::string::npos && at > 0) {
    const std::string digits = text.substr(at + kWidth.size());
    const bool numeric = !digits.empty() && digits.size() <= 4 &&
                         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    width = numeric ? std::stoll(digits) : 0;
    if (width < 1 || width > kMaxWidth) throw Error("normalization '" + full + "' is not understood", kHint);
    text.resize(at);
  }
  static const std::string kDeskew = "+deskew";
  const bool deskew = text.size() > kDeskew.size() && text.ends_with(kDeskew);
  if (deskew) text.resize(text.size() - kDeskew.size());
  Normalization n = parse_pixels(text, full);
  n.deskew = deskew;
  n.width = width;
  return n;
}

Normalization Normalization::parse_pixels(const std::string& text, const std::string& full) {
  if (text == "scale") return scale();
  if (text == "standardize" || text == "standardise") return standardize();
  const auto comma = text.find(',');
  if (comma != std::string::npos) {
    char* end1 = nullptr;
    char* end2 = nullptr;
    const std::string a = text.substr(0, comma), b = text.substr(comma + 1);
    const float mean = std::strtof(a.c_str(), &end1);
    const float sd = std::strtof(b.c_str(), &end2);
    if (!a.empty() && !b.empty() && *end1 == '\0' && *end2 == '\0' && std::isfinite(mean) &&
        std::isfinite(sd) && sd > 0.0f)
      return {mean, sd};
  }
  throw Error("normalization '" + full + "' is not understood", kHint);
}

std::string Normalization::name() const {
  const std::string suffix =
      std::string(deskew ? "+deskew" : "") + (width > 0 ? "+width=" + std::to_string(width) : "");
  if (mean == 0.0f && std == 1.0f) return "scale" + suffix;
  if (mean == 0.1307f && std == 0.3081f) return "standardize" + suffix;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g,%.9g", mean, std);
  return buf + suffix;
}

void to_model_view(const Normalization& norm, const float* src, float* dst, int64_t H, int64_t W) {
  if (!norm.reshapes()) {
    std::copy(src, src + H * W, dst);
    return;
  }
  if (norm.deskew && norm.width > 0) {
    std::vector<float> upright(static_cast<size_t>(H * W));
    deskew(src, upright.data(), H, W);
    normalize_width(upright.data(), dst, H, W, norm.width);
  } else if (norm.deskew) {
    deskew(src, dst, H, W);
  } else {
    normalize_width(src, dst, H, W, norm.width);
  }
  for (int64_t i = 0; i < H * W; ++i)
    dst[i] = static_cast<float>(std::lround(std::clamp(dst[i], 0.0f, 1.0f) * 255.0f)) / 255.0f;
}

}  // namespace mnistcnn::data
