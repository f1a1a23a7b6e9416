// Data augmentation for digits, drawn per image: random affine (rotation, scale,
// translation, shear), elastic distortion (Simard et al. 2003), stroke thickness (3×3
// cross erosion/dilation) and random erasing (Zhong et al. 2017). The draws for image
// `index` in epoch `epoch` come from Rng(seed, stream(epoch, index)) alone, so they do
// not depend on batch size, batch composition or thread count, and a resumed run
// repeats them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mnistcnn::data {

struct AugmentOptions {
  // Random affine, applied with probability affine_p when any of its ranges is set.
  float affine_p = 1.0f;
  float rotate = 0.0f;                      // degrees: uniform in [−rotate, rotate]
  float scale_min = 1.0f, scale_max = 1.0f; // zoom: uniform in [min, max]
  float translate = 0.0f;                   // pixels: round(U(−t, t)) per axis, as torchvision
  float shear = 0.0f;                       // degrees: x-shear uniform in [−shear, shear]
  // Elastic distortion: displacement alpha · (U(−1, 1) noise ∗ Gaussian(sigma)).
  float elastic_p = 0.0f;
  float elastic_alpha = 34.0f, elastic_sigma = 4.0f;  // Simard's values for 28×28 digits
  // Stroke thickness: erosion or dilation by the 3×3 cross, each half of the time.
  float thickness_p = 0.0f;
  // Random erasing: a rectangle of area fraction U(area_min, area_max) and aspect h/w
  // log-uniform in [ratio_min, ratio_max] (up to 10 tries to fit), set to 0 or noise.
  float erase_p = 0.0f;
  float erase_area_min = 0.02f, erase_area_max = 0.1f;  // torchvision: 0.33, too much of a digit
  float erase_ratio_min = 0.3f, erase_ratio_max = 3.3f;
  bool erase_random = false;  // fill with U(0, 1) noise instead of the background

  bool affine_on() const;
  bool any() const;  // whether any transform can change an image
  friend bool operator==(const AugmentOptions&, const AugmentOptions&) = default;
};

// none | light (±5°, 0.95–1.05, ±1 px) | standard (±10°, 0.9–1.1, ±2 px, shear ±10°) |
// strong (standard + elastic 0.5 + thickness 0.3 + erasing 0.3). Throws Error otherwise.
AugmentOptions augment_preset(const std::string& name);
std::vector<std::string> augment_preset_names();

// "PRESET[,key=value...]", e.g. "standard,rotate=15,elastic=0.3". Keys: rotate, scale
// (LO:HI), translate, shear, affine (probability), elastic, elastic_alpha,
// elastic_sigma, thickness, erase, erase_area (LO:HI), erase_ratio (LO:HI), erase_fill
// (zero|random). Throws Error naming the key, the value and the accepted range.
AugmentOptions parse_augment(const std::string& text);
// Throws Error naming the first setting outside its range (the text form's key).
void validate_augment(const AugmentOptions& opt);
// Applies one "key=value" override to `opt` (what parse_augment does for each).
void set_augment_option(AugmentOptions& opt, const std::string& key, const std::string& value);
// The text that parse_augment turns back into `opt`: a preset name when it is one,
// otherwise "none," followed by every setting that differs from none's.
std::string augment_to_string(const AugmentOptions& opt);

// Per-thread work space for Augmenter::apply; grows on first use, then is reused.
struct AugmentScratch {
  std::vector<float> in, a, b, dx, dy, tmp;
};

class Augmenter {
 public:
  Augmenter(const AugmentOptions& opt, uint64_t seed);  // validates opt (throws Error)
  const AugmentOptions& options() const { return opt_; }

  // dst (H×W) = the augmented src for (epoch, dataset index); pixels in [0, 1] stay in
  // [0, 1]. Bytes are read as b/255. dst must not alias src.
  void apply(const float* src, float* dst, int64_t H, int64_t W, int64_t epoch, int64_t index,
             AugmentScratch& scratch) const;
  void apply(const uint8_t* src, float* dst, int64_t H, int64_t W, int64_t epoch, int64_t index,
             AugmentScratch& scratch) const;

 private:
  AugmentOptions opt_;
  uint64_t seed_;
};

}  // namespace mnistcnn::data
