// Subsets of a Dataset for transfer and few-shot experiments: keep some classes
// (relabelled 0..k-1, as Keras' mnist_transfer_cnn does), keep n images per class, relabel
// by class name to match a model, and a content fingerprint so that checkpoints can tell
// whether they are resumed on the same data.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mnistcnn/data/dataset.h"

namespace mnistcnn::data {

// "0-4", "5,7,9", "0-2,7" -> sorted unique numbers in [0, 65535]. `flag` (may be empty)
// names the text in errors (empty text, a backwards range, anything but digits, commas,
// dashes and blanks).
std::vector<int> parse_class_list(const std::string& text, const std::string& flag = "--classes");

// Turns numbers from parse_class_list into class indices of ds. When every class name is
// a decimal integer (MNIST's implicit "0".."9", a folder of digit subfolders "3", "7") a
// number means the class of that name; otherwise it is an index (Fashion-MNIST: 0 is
// "T-shirt/top"). Numbers matching no class: Error listing the data's classes.
std::vector<int> resolve_classes(const Dataset& ds, const std::vector<int>& numbers);

// Keeps the images of `classes` (indices into ds, distinct, in this order): labels become
// positions in the list, class_names the kept classes' names, num_classes its length.
Dataset select_classes(const Dataset& ds, const std::vector<int>& classes);

struct ShortClass {
  int label;          // class index in the dataset
  int64_t available;  // images it has, fewer than asked
};
struct PerClassSubset {
  Dataset data;
  std::vector<int64_t> indices;           // of the kept images in ds, increasing
  std::vector<ShortClass> short_classes;  // classes that kept all their (fewer than n) images
};

// The first n images of each class in a seeded permutation of ds (data::permutation: the
// same on every platform), kept in their original order. A class with fewer than n images
// keeps them all and is listed in short_classes (not an error: the caller reports it). For
// one seed the subset for n is contained in the subset for n + 1. n < 1: Error.
PerClassSubset per_class(const Dataset& ds, int64_t n, uint64_t seed);

// Relabels ds by class name to the positions of `names` (e.g. a model's classes): a folder
// of corrections with subfolders "3" and "7" gets labels 3 and 7 for a ten-digit model.
// Afterwards num_classes = names.size() and class_names = names. Classes of ds that are not
// in `names`: Error listing them.
void align_to_classes(Dataset& ds, const std::vector<std::string>& names);

// The images at `indices`, in that order; sizes, classes and names kept.
Dataset take(const Dataset& ds, const std::vector<int64_t>& indices);

// A seeded split that holds out round(n_c * fraction) images of each class c, but leaves
// every non-empty class at least one training image. Returns (train, held-out) indices,
// each increasing. fraction must be in [0, 1).
std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const Dataset& ds, double fraction,
                                                                       uint64_t seed);

// Images per class (num_classes entries).
std::vector<int64_t> class_counts(const Dataset& ds);

// SHA-256 (64 hex digits) over the image size, the class names, the images and the labels
// in order: equal exactly when the data a model would see is equal.
std::string fingerprint(const Dataset& ds);

}  // namespace mnistcnn::data
