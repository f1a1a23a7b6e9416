#include "mnistcnn/data/loader.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "mnistcnn/core/error.h"
#include "mnistcnn/core/rng.h"
#include "mnistcnn/data/sha256.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::data {

std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  Rng rng(seed, stream);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.below(static_cast<uint64_t>(i + 1))]);
  return p;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_indices(int64_t n, double fraction,
                                                                    uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0)) throw Error("validation split must be in [0, 1)");
  const auto n_val = static_cast<int64_t>(std::llround(static_cast<double>(n) * fraction));
  if (n_val == 0) {
    std::vector<int64_t> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    return {all, {}};
  }
  auto p = permutation(n, seed, 0x5911ULL);
  std::vector<int64_t> val(p.end() - n_val, p.end());
  p.resize(static_cast<size_t>(n - n_val));
  return {p, val};
}

Loader::Loader(const Dataset& data, std::vector<int64_t> indices, int64_t batch_size, bool shuffle,
               uint64_t seed, Normalization norm)
    : data_(data), indices_(std::move(indices)), batch_size_(batch_size), shuffle_(shuffle),
      seed_(seed), norm_(norm) {
  if (batch_size < 1) throw Error("batch size must be at least 1");
  if (indices_.empty()) {
    indices_.resize(static_cast<size_t>(data.size()));
    std::iota(indices_.begin(), indices_.end(), 0);
  }
  for (int64_t i : indices_)
    if (i < 0 || i >= data.size()) throw Error("loader: index " + std::to_string(i) + " outside the dataset");
  for (int b = 0; b < 256; ++b) lut_[b] = norm_.apply(static_cast<float>(b) / 255.0f);
  if (norm_.reshapes()) {
    const int64_t pixels = data.rows * data.cols;
    slot_.assign(static_cast<size_t>(data.size()), -1);
    int64_t slots = 0;
    for (int64_t i : indices_)
      if (slot_[static_cast<size_t>(i)] < 0) slot_[static_cast<size_t>(i)] = slots++;
    if (norm_.width > data.cols)
      throw Error("loader: width normalisation to " + std::to_string(norm_.width) + " pixels does not fit " +
                  std::to_string(data.rows) + "x" + std::to_string(data.cols) + " images");
    views_.resize(static_cast<size_t>(slots * pixels));
    kernels::parallel_region(slots > 1, [&] {
      std::vector<float> in(static_cast<size_t>(pixels)), out(static_cast<size_t>(pixels));
#pragma omp for schedule(static)
      for (int64_t i = 0; i < data.size(); ++i) {
        const int64_t s = slot_[static_cast<size_t>(i)];
        if (s < 0) continue;
        const uint8_t* src = data.images.data() + i * pixels;
        for (int64_t p = 0; p < pixels; ++p) in[static_cast<size_t>(p)] = static_cast<float>(src[p]) / 255.0f;
        to_model_view(norm_, in.data(), out.data(), data.rows, data.cols);
        uint8_t* dst = views_.data() + s * pixels;
        for (int64_t p = 0; p < pixels; ++p) dst[p] = static_cast<uint8_t>(std::lround(out[static_cast<size_t>(p)] * 255.0f));
      }
    });
  }
  start_epoch(0);
}

const uint8_t* Loader::image(int64_t idx) const {
  const int64_t pixels = data_.rows * data_.cols;
  if (!norm_.reshapes()) return data_.images.data() + idx * pixels;
  return views_.data() + slot_[static_cast<size_t>(idx)] * pixels;
}

void Loader::set_augment(const AugmentOptions& opt) {
  if (opt.any() && (shift_x_ || shift_y_)) throw Error("loader: a shifted view cannot be augmented too");
  if (opt.any())
    augment_.emplace(opt, seed_);
  else
    augment_.reset();
}

void Loader::set_shift(int dx, int dy) {
  if (augment_) throw Error("loader: a shifted view cannot be augmented too");
  if (std::abs(int64_t{dx}) >= data_.cols || std::abs(int64_t{dy}) >= data_.rows)
    throw Error("loader: a shift of (" + std::to_string(dx) + ", " + std::to_string(dy) + ") pixels moves a " +
                std::to_string(data_.rows) + "x" + std::to_string(data_.cols) + " image out of view");
  shift_x_ = dx;
  shift_y_ = dy;
}

void Loader::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  if (!shuffle_) {
    order_ = indices_;
    return;
  }
  const auto p = permutation(size(), seed_, 0xE90C0000ULL + static_cast<uint64_t>(epoch));
  order_.resize(indices_.size());
  for (size_t i = 0; i < p.size(); ++i) order_[i] = indices_[static_cast<size_t>(p[i])];
}

void Loader::batch(int64_t b, Tensor& x, std::vector<int32_t>& y) const {
  const int64_t begin = b * batch_size_;
  const int64_t n = std::min(batch_size_, size() - begin);
  if (b < 0 || n <= 0) throw Error("loader: batch " + std::to_string(b) + " out of range");
  const int64_t pixels = data_.rows * data_.cols;
  x.resize({n, 1, data_.rows, data_.cols});
  y.resize(static_cast<size_t>(n));
  float* out = x.data();
  if (augment_) {
    kernels::parallel_region(true, [&] {
      AugmentScratch scratch;
#pragma omp for schedule(dynamic, 4)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t idx = order_[static_cast<size_t>(begin + i)];
        float* dst = out + i * pixels;
        augment_->apply(image(idx), dst, data_.rows, data_.cols, epoch_, idx, scratch);
        for (int64_t p = 0; p < pixels; ++p) dst[p] = norm_.apply(dst[p]);
        y[static_cast<size_t>(i)] = data_.labels[static_cast<size_t>(idx)];
      }
    });
    return;
  }
  // Images are read from random places in memory: two threads wait for them in parallel,
  // and each asks for its share of the next batch's now, to arrive during this step (the
  // same thread takes the same share of every batch). Waiting for them was most of this
  // function's time (lenet: 60 us a batch of 64 on one thread).
  const int64_t next = begin + batch_size_, next_n = std::min(batch_size_, size() - next);
  kernels::parallel_region(n * pixels >= kernels::kMinParallelValues, [&] {
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < n; ++i) {
      const int64_t idx = order_[static_cast<size_t>(begin + i)];
      const uint8_t* src = image(idx);
      float* dst = out + i * pixels;
      if (shift_x_ == 0 && shift_y_ == 0) {
        to_floats(src, pixels, dst);
      } else {
        copy_shifted(src, dst);
      }
      y[static_cast<size_t>(i)] = data_.labels[static_cast<size_t>(idx)];
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < next_n; ++i) {
      const uint8_t* src = image(order_[static_cast<size_t>(next + i)]);
      for (int64_t p = 0; p < pixels; p += 64) __builtin_prefetch(src + p);
    }
  });
}

void Loader::to_floats(const uint8_t* src, int64_t pixels, float* dst) const {
  int64_t p = 0;
#if defined(__AVX512F__)
  for (; p + 16 <= pixels; p += 16) {  // 16 table lookups in one gather
    // The all-lanes masked forms: GCC 12 warns of the plain ones' undefined pass-through (bug 105593).
    const __m512i at = _mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + p)));
    _mm512_storeu_ps(dst + p, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, at, lut_, 4));
  }
#endif
  for (; p < pixels; ++p) dst[p] = lut_[src[p]];
}

void Loader::copy_shifted(const uint8_t* src, float* dst) const {
  const int64_t rows = data_.rows, cols = data_.cols;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t sr = r - shift_y_;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t sc = c - shift_x_;
      const bool inside = sr >= 0 && sr < rows && sc >= 0 && sc < cols;
      dst[r * cols + c] = lut_[inside ? src[sr * cols + sc] : 0];
    }
  }
}

std::string Loader::fingerprint() const {
  const auto pixels = static_cast<size_t>(data_.rows * data_.cols);
  Sha256 digest;
  for (const int64_t i : indices_) {
    digest.update(data_.images.data() + static_cast<size_t>(i) * pixels, pixels);
    digest.update(&data_.labels[static_cast<size_t>(i)], 1);
  }
  return digest.hex();
}

}  // namespace mnistcnn::data
