#include "mnistcnn/data/normalize.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "mnistcnn/core/error.h"

namespace mnistcnn::data {

Normalization Normalization::parse(const std::string& full) {
  static const std::string kDeskew = "+deskew";
  const bool deskew = full.size() > kDeskew.size() && full.ends_with(kDeskew);
  const std::string text = deskew ? full.substr(0, full.size() - kDeskew.size()) : full;
  Normalization n = parse_pixels(text, full);
  n.deskew = deskew;
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
  throw Error("normalization '" + full + "' is not understood",
              "use scale (pixels/255), standardize (mean 0.1307, std 0.3081) or MEAN,STD with STD > 0, "
              "optionally followed by +deskew");
}

std::string Normalization::name() const {
  const std::string suffix = deskew ? "+deskew" : "";
  if (mean == 0.0f && std == 1.0f) return "scale" + suffix;
  if (mean == 0.1307f && std == 0.3081f) return "standardize" + suffix;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g,%.9g", mean, std);
  return buf + suffix;
}

}  // namespace mnistcnn::data
