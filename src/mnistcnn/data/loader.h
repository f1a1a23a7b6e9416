// Loader: batches of a Dataset (or a subset of its indices), shuffled per epoch from
// the run's seed, optionally augmented, converted from bytes to normalised floats one
// batch at a time. The order of epoch e depends only on (seed, e), and an image's
// augmentation only on (seed, e, its dataset index), so a resumed run sees the same data.
// With a reshaping normalisation (deskew, width) the loader makes the model's view of its
// images once, to bytes, when it is made; augmentation and shifts then act on that view.
#pragma once
#include <cstdint>
#include <string>
#include <optional>
#include <vector>

#include "mnistcnn/data/augment.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/normalize.h"
#include "mnistcnn/tensor/tensor.h"

namespace mnistcnn::data {

class Loader {
 public:
  // indices empty: the whole dataset.
  Loader(const Dataset& data, std::vector<int64_t> indices, int64_t batch_size, bool shuffle,
         uint64_t seed, Normalization norm);

  // Augments every image of later batch() calls (for training loaders), with draws from
  // the loader's seed; an empty or all-zero `opt` turns augmentation off. Throws Error
  // for options out of range.
  void set_augment(const AugmentOptions& opt);
  const AugmentOptions* augment() const { return augment_ ? &augment_->options() : nullptr; }

  // Serves every image moved by whole pixels, dx to the right and dy down, the uncovered
  // border blank (byte 0): a view for test-time augmentation. Error when augmenting too, or
  // for a shift of the whole image out of view.
  void set_shift(int dx, int dy);

  // Fixes the order (identity when not shuffling) and augmentation draws for `epoch`.
  void start_epoch(int64_t epoch);
  int64_t size() const { return static_cast<int64_t>(indices_.size()); }
  int64_t batch_size() const { return batch_size_; }
  int64_t num_batches() const { return (size() + batch_size_ - 1) / batch_size_; }
  // Batch b of the current epoch (the last one may be smaller): x N×1×H×W, y N labels.
  // Augmented images are made in parallel (OpenMP), one per thread at a time.
  void batch(int64_t b, Tensor& x, std::vector<int32_t>& y) const;
  const Dataset& dataset() const { return data_; }
  const std::vector<int64_t>& indices() const { return indices_; }
  // SHA-256 (hex) of the images and labels this loader serves, in index order: a resumed
  // run checks it to refuse other data.
  std::string fingerprint() const;
  const Normalization& normalization() const { return norm_; }

 private:
  const uint8_t* image(int64_t idx) const;  // the bytes the loader serves for dataset image idx
  void copy_shifted(const uint8_t* src, float* dst) const;
  void to_floats(const uint8_t* src, int64_t pixels, float* dst) const;  // through lut_

  const Dataset& data_;
  std::vector<int64_t> indices_;
  std::vector<int64_t> order_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  int64_t epoch_ = 0;
  Normalization norm_;
  std::optional<Augmenter> augment_;
  int shift_x_ = 0, shift_y_ = 0;
  float lut_[256];  // byte -> normalised float
  std::vector<uint8_t> views_;  // norm_.reshapes(): the images of indices_ as the model sees them, by slot
  std::vector<int64_t> slot_;   // dataset index -> its image in views_
};

// A seeded split of [0, n) into (train, validation), the validation part holding
// round(n·fraction) indices. fraction 0 gives an empty validation part.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_indices(int64_t n, double fraction,
                                                                    uint64_t seed);

// Fisher–Yates with the project's Rng: the same permutation on every platform.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream);

}  // namespace mnistcnn::data
