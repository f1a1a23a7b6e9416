// An in-memory labelled image set, and loading the train/test split of an MNIST-style
// IDX directory (MNIST, Fashion-MNIST and KMNIST share the file names).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mnistcnn::data {

// Images stay bytes (47 MB for MNIST train instead of 188 MB as floats); the loader
// converts per batch.
struct Dataset {
  int64_t rows = 28, cols = 28;
  std::vector<uint8_t> images;  // size() * rows * cols, row-major, image after image
  std::vector<uint8_t> labels;  // size(), each in [0, num_classes)
  int num_classes = 10;
  std::vector<std::string> class_names;  // label order; empty: "0".."num_classes-1"
  std::string source;  // where it came from: the images file and the labels file
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// The class names in label order: ds.class_names, or "0".."num_classes-1" when empty.
std::vector<std::string> effective_class_names(const Dataset& ds);

enum class Split { Train, Test };
std::string_view split_name(Split split);  // "train", "test"

// The names a file with canonical name NAME (e.g. "t10k-images-idx3-ubyte") is accepted
// under, in the order they are looked for: NAME, NAME.gz, then the dotted variant
// ("t10k-images.idx3-ubyte") and its .gz.
std::vector<std::string> idx_file_candidates(const std::string& canonical);

// Canonical IDX names of a split: {images, labels}, e.g. train-images-idx3-ubyte.
std::pair<std::string, std::string> idx_split_names(Split split);

// Loads DIR's images and labels of the split (10 classes). Missing files, a count
// mismatch or any damaged file throw mnistcnn::Error naming the files.
Dataset load_idx_split(const std::string& dir, Split split);

}  // namespace mnistcnn::data
