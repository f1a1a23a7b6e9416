// Augmenter: the per-image random draws and the order of the transforms (thickness, then
// geometry in one resampling, then erasing). Presets and the text form live in
// augment_options.cpp.
#include "mnistcnn/data/augment.h"

#include <algorithm>
#include <cmath>

#include "mnistcnn/core/rng.h"
#include "mnistcnn/data/augment_ops.h"

namespace mnistcnn::data {

namespace {

// Unique for epoch < 2^24 and index < 2^40; disjoint from the loader's shuffle streams.
uint64_t augment_stream(int64_t epoch, int64_t index) {
  return 0xA116000000000000ULL ^ (static_cast<uint64_t>(epoch) << 40) ^ static_cast<uint64_t>(index);
}

}  // namespace

bool AugmentOptions::affine_on() const {
  return affine_p > 0.0f && (rotate > 0.0f || scale_min != 1.0f || scale_max != 1.0f || translate > 0.0f || shear > 0.0f);
}

bool AugmentOptions::any() const {
  return affine_on() || elastic_p > 0.0f || thickness_p > 0.0f || erase_p > 0.0f;
}

Augmenter::Augmenter(const AugmentOptions& opt, uint64_t seed) : opt_(opt), seed_(seed) { validate_augment(opt); }

void Augmenter::apply(const uint8_t* src, float* dst, int64_t H, int64_t W, int64_t epoch, int64_t index,
                      AugmentScratch& s) const {
  s.in.resize(static_cast<size_t>(H * W));
  for (int64_t i = 0; i < H * W; ++i) s.in[static_cast<size_t>(i)] = static_cast<float>(src[i]) / 255.0f;
  apply(s.in.data(), dst, H, W, epoch, index, s);
}

void Augmenter::apply(const float* src, float* dst, int64_t H, int64_t W, int64_t epoch, int64_t index,
                      AugmentScratch& s) const {
  const auto n = static_cast<size_t>(H * W);
  for (auto* v : {&s.a, &s.b, &s.dx, &s.dy, &s.tmp}) v->resize(n);
  Rng rng(seed_, augment_stream(epoch, index));
  auto happens = [&](float p) { return p > 0.0f && (p >= 1.0f || rng.uniform() < p); };
  const float* cur = src;

  // Stroke thickness first, on the crisp source: after a resampling has softened the
  // strokes, an erosion removes far more of a thin digit.
  if (happens(opt_.thickness_p)) {
    if (rng.uniform() < 0.5f)
      dilate3x3(cur, s.b.data(), H, W);
    else
      erode3x3(cur, s.b.data(), H, W);
    cur = s.b.data();
  }

  // Geometry: affine and elastic share one bilinear resampling.
  AffineMap map = make_affine(H, W, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f);
  bool warp = false;
  if (opt_.affine_on() && happens(opt_.affine_p)) {
    const float rot = opt_.rotate > 0.0f ? rng.uniform(-opt_.rotate, opt_.rotate) : 0.0f;
    const float scale = opt_.scale_max > opt_.scale_min ? rng.uniform(opt_.scale_min, opt_.scale_max) : opt_.scale_min;
    float tx = 0.0f, ty = 0.0f;
    if (opt_.translate > 0.0f) {
      tx = std::round(rng.uniform(-opt_.translate, opt_.translate));
      ty = std::round(rng.uniform(-opt_.translate, opt_.translate));
    }
    const float shear = opt_.shear > 0.0f ? rng.uniform(-opt_.shear, opt_.shear) : 0.0f;
    map = make_affine(H, W, rot, scale, shear, tx, ty);
    warp = true;
  }
  const bool elastic = happens(opt_.elastic_p);
  if (elastic) elastic_field(rng, H, W, opt_.elastic_alpha, opt_.elastic_sigma, s.dx.data(), s.dy.data(), s.tmp.data());
  if (warp || elastic) {
    warp_bilinear(cur, s.a.data(), H, W, map, elastic ? s.dx.data() : nullptr, elastic ? s.dy.data() : nullptr);
    cur = s.a.data();
  }

  // Clamped: bilinear weights summing to 1 can round a stroke of 1.0 a little above.
  for (size_t i = 0; i < n; ++i) dst[i] = std::clamp(cur[i], 0.0f, 1.0f);

  if (happens(opt_.erase_p)) {
    const double area = static_cast<double>(H * W);
    const float log_lo = std::log(opt_.erase_ratio_min), log_hi = std::log(opt_.erase_ratio_max);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * rng.uniform(opt_.erase_area_min, opt_.erase_area_max);
      const double aspect = std::exp(rng.uniform(log_lo, log_hi));
      const auto h = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
      const auto w = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
      if (h < 1 || w < 1 || h >= H || w >= W) continue;
      const auto top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(H - h + 1)));
      const auto left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(W - w + 1)));
      fill_rect(dst, W, top, left, h, w, 0.0f, opt_.erase_random ? &rng : nullptr);
      break;
    }
  }
}

}  // namespace mnistcnn::data
