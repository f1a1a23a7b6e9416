// Image-folder datasets, DIR/<class>/*.png as torchvision's ImageFolder reads them: every
// picture (any size, grey or colour, either polarity) goes through the preprocessing
// `mnistcnn predict` uses (to_mnist_digit) and is kept as 28×28 bytes. Decoding is passed
// in (io::read_png_gray): io depends on data, so data must not call io.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/digit_image.h"

namespace mnistcnn::data {

using DecodeImage = std::function<GrayImage(const std::string& path)>;

struct ImageFolderOptions {
  DecodeImage decode;              // required; throws Error naming the file when it cannot
  bool skip_bad = false;           // unreadable or blank images are listed in `skipped`, not thrown
  int64_t max_files = 1'000'000;   // counted before any image is read
  int max_classes = 256;           // labels are bytes
};

struct SkippedImage {
  std::string path, reason;
};

struct ImageFolder {
  Dataset data;                       // 28×28; class_names = folder names; source = DIR
  std::vector<std::string> files;     // the file of each image, in dataset order
  std::vector<SkippedImage> skipped;  // only with skip_bad
  int64_t ignored = 0;                // files that are not .png (hidden files are not counted)
};

// True when DIR holds a subdirectory whose name does not start with '.'.
bool has_class_folders(const std::string& dir);

// Reads DIR. Classes are DIR's subfolders (hidden ones skipped), sorted numerically when
// every name is a decimal integer ("2" before "10"), else by name (bytes); a class's
// images are its .png files (any case, in nested folders too, hidden ones skipped) in
// path order, so the result does not depend on the file system's order. Errors name the
// folder or file: DIR missing or without class folders, more than max_classes folders or
// max_files files, a class folder without a PNG, a folder name that is not printable
// UTF-8, and (unless skip_bad) an unreadable or blank image.
ImageFolder load_image_folder(const std::string& dir, const ImageFolderOptions& options);

}  // namespace mnistcnn::data
