// Augmentation presets and the text form "PRESET,key=value,...": one table of settings
// drives parsing, range checks, error messages and formatting.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "mnistcnn/core/error.h"
#include "mnistcnn/core/number_text.h"
#include "mnistcnn/data/augment.h"

namespace mnistcnn::data {

namespace {

struct Scalar {
  const char* key;
  float AugmentOptions::*field;
  float lo, hi;
  const char* unit;
};
struct Pair {
  const char* key;
  float AugmentOptions::*lo_field;
  float AugmentOptions::*hi_field;
  float lo, hi;
  const char* unit;
};

constexpr Scalar kScalars[] = {
    {"rotate", &AugmentOptions::rotate, 0, 180, "degrees"},
    {"translate", &AugmentOptions::translate, 0, 64, "pixels"},
    {"shear", &AugmentOptions::shear, 0, 60, "degrees"},
    {"affine", &AugmentOptions::affine_p, 0, 1, "probability"},
    {"elastic", &AugmentOptions::elastic_p, 0, 1, "probability"},
    {"elastic_alpha", &AugmentOptions::elastic_alpha, 0, 1000, "pixels"},
    {"elastic_sigma", &AugmentOptions::elastic_sigma, 0.5f, 16, "pixels"},
    {"thickness", &AugmentOptions::thickness_p, 0, 1, "probability"},
    {"erase", &AugmentOptions::erase_p, 0, 1, "probability"},
};
constexpr Pair kPairs[] = {
    {"scale", &AugmentOptions::scale_min, &AugmentOptions::scale_max, 0.25f, 4, "zoom factor LO:HI"},
    {"erase_area", &AugmentOptions::erase_area_min, &AugmentOptions::erase_area_max, 0.001f, 1,
     "fraction of the image LO:HI"},
    {"erase_ratio", &AugmentOptions::erase_ratio_min, &AugmentOptions::erase_ratio_max, 0.01f, 100,
     "aspect h/w LO:HI"},
};
const char* const kKeysHint =
    "settings: rotate, scale=LO:HI, translate, shear, affine, elastic, elastic_alpha, elastic_sigma, thickness, "
    "erase, erase_area=LO:HI, erase_ratio=LO:HI, erase_fill=zero|random";

std::string range_text(float lo, float hi, const char* unit) {
  return "[" + shortest_text(lo) + ", " + shortest_text(hi) + "] (" + unit + ")";
}

// `setting` is the key=value as given, for the message.
float parse_number(const std::string& setting, const std::string& text, float lo, float hi, const char* unit) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v < lo || v > hi)
    throw Error("augmentation setting " + setting + ": expected a number in " + range_text(lo, hi, unit));
  return static_cast<float>(v);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

std::vector<std::string> augment_preset_names() { return {"none", "light", "standard", "strong"}; }

AugmentOptions augment_preset(const std::string& name) {
  AugmentOptions o;
  if (name == "none") return o;
  if (name == "light") {
    o.rotate = 5, o.scale_min = 0.95f, o.scale_max = 1.05f, o.translate = 1;
    return o;
  }
  o.rotate = 10, o.scale_min = 0.9f, o.scale_max = 1.1f, o.translate = 2, o.shear = 10;
  if (name == "standard") return o;
  if (name == "strong") {
    o.elastic_p = 0.5f, o.thickness_p = 0.3f, o.erase_p = 0.3f;
    return o;
  }
  throw Error("unknown augmentation preset '" + name + "'", "presets: none, light, standard, strong");
}

void validate_augment(const AugmentOptions& o) {
  for (const auto& s : kScalars)
    if (!(o.*s.field >= s.lo && o.*s.field <= s.hi))
      throw Error("augmentation setting " + std::string(s.key) + " = " + shortest_text(o.*s.field) + " is outside " +
                  range_text(s.lo, s.hi, s.unit));
  for (const auto& p : kPairs)
    if (!(o.*p.lo_field >= p.lo && o.*p.lo_field <= o.*p.hi_field && o.*p.hi_field <= p.hi))
      throw Error("augmentation setting " + std::string(p.key) + " = " + shortest_text(o.*p.lo_field) + ":" +
                  shortest_text(o.*p.hi_field) + " is not LO <= HI within " + range_text(p.lo, p.hi, p.unit));
}

void set_augment_option(AugmentOptions& o, const std::string& key, const std::string& value) {
  for (const auto& s : kScalars)
    if (key == s.key) {
      o.*s.field = parse_number(key + "=" + value, value, s.lo, s.hi, s.unit);
      return;
    }
  for (const auto& p : kPairs)
    if (key == p.key) {
      const auto colon = value.find(':');
      const std::string lo = value.substr(0, colon), hi = colon == std::string::npos ? lo : value.substr(colon + 1);
      const std::string setting = key + "=" + value;
      const float a = parse_number(setting, lo, p.lo, p.hi, p.unit), b = parse_number(setting, hi, p.lo, p.hi, p.unit);
      if (a > b) throw Error("augmentation setting " + key + "=" + value + ": LO is above HI");
      o.*p.lo_field = a, o.*p.hi_field = b;
      return;
    }
  if (key == "erase_fill") {
    if (value != "zero" && value != "random")
      throw Error("augmentation setting erase_fill=" + value + ": expected zero or random");
    o.erase_random = value == "random";
    return;
  }
  throw Error("unknown augmentation setting '" + key + "'", kKeysHint);
}

AugmentOptions parse_augment(const std::string& text) {
  if (text.size() > 4096) throw Error("augmentation text is too long (" + std::to_string(text.size()) + " characters)");
  size_t comma = text.find(',');
  AugmentOptions o = augment_preset(trim(text.substr(0, comma)));
  while (comma != std::string::npos) {
    const size_t next = text.find(',', comma + 1);
    const std::string item = trim(text.substr(comma + 1, next == std::string::npos ? next : next - comma - 1));
    const auto eq = item.find('=');
    if (eq == std::string::npos)
      throw Error("augmentation '" + text + "': '" + item + "' is not key=value", kKeysHint);
    set_augment_option(o, trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
    comma = next;
  }
  validate_augment(o);
  return o;
}

std::string augment_to_string(const AugmentOptions& o) {
  for (const auto& name : augment_preset_names())
    if (augment_preset(name) == o) return name;
  const AugmentOptions none;
  std::string s = "none";
  // append() rather than "," + ...: GCC 12 warns falsely (-Wrestrict) on that form.
  for (const auto& k : kScalars)
    if (o.*k.field != none.*k.field) s.append(",").append(k.key).append("=").append(shortest_text(o.*k.field));
  for (const auto& p : kPairs)
    if (o.*p.lo_field != none.*p.lo_field || o.*p.hi_field != none.*p.hi_field)
      s.append(",").append(p.key).append("=").append(shortest_text(o.*p.lo_field)).append(":").append(shortest_text(o.*p.hi_field));
  if (o.erase_random) s += ",erase_fill=random";
  return s;
}

}  // namespace mnistcnn::data
