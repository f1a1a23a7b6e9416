// Finding and loading an IDX split: try the accepted names in order, read both files,
// check they agree.
#include "mnistcnn/data/dataset.h"

#include <filesystem>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/idx.h"

namespace mnistcnn::data {

namespace fs = std::filesystem;

namespace {

// The first existing candidate (a directory counts, so that it fails loudly when read).
std::string find_file(const std::string& dir, const std::string& canonical, std::vector<std::string>& looked_for) {
  for (const auto& name : idx_file_candidates(canonical)) {
    std::error_code ec;
    fs::path p = fs::path(dir) / name;
    if (fs::exists(p, ec)) return p.string();
    looked_for.push_back(name);
  }
  return {};
}

}  // namespace

std::vector<std::string> effective_class_names(const Dataset& ds) {
  if (!ds.class_names.empty()) {
    if (static_cast<int>(ds.class_names.size()) != ds.num_classes)
      throw Error("dataset " + ds.source + ": " + std::to_string(ds.class_names.size()) + " class names for " +
                  std::to_string(ds.num_classes) + " classes");
    return ds.class_names;
  }
  std::vector<std::string> names;
  for (int k = 0; k < ds.num_classes; ++k) names.push_back(std::to_string(k));
  return names;
}

std::string_view split_name(Split split) { return split == Split::Train ? "train" : "test"; }

std::vector<std::string> idx_file_candidates(const std::string& canonical) {
  std::vector<std::string> out = {canonical, canonical + ".gz"};
  auto pos = canonical.rfind("-idx");
  if (pos != std::string::npos) {
    std::string dotted = canonical;
    dotted[pos] = '.';
    out.push_back(dotted);
    out.push_back(dotted + ".gz");
  }
  return out;
}

std::pair<std::string, std::string> idx_split_names(Split split) {
  if (split == Split::Train) return {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
  return {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
}

Dataset load_idx_split(const std::string& dir, Split split) {
  const std::string hint = "mnistcnn data fetch mnist --dir " + dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (fs::exists(dir, ec)) throw Error(dir + ": not a directory; expected a directory of IDX files", hint);
    throw Error(dir + ": no such directory; expected a directory of IDX files", hint);
  }
  auto [images_name, labels_name] = idx_split_names(split);
  std::vector<std::string> looked_for;
  std::string images_path = find_file(dir, images_name, looked_for);
  std::string labels_path = find_file(dir, labels_name, looked_for);
  if (images_path.empty() || labels_path.empty()) {
    std::string missing = images_path.empty() && labels_path.empty() ? "images or labels"
                          : images_path.empty()                      ? "images"
                                                                     : "labels";
    std::string names;
    for (const auto& n : looked_for) names += (names.empty() ? "" : ", ") + n;
    throw Error(dir + ": no " + std::string(split_name(split)) + " " + missing + " file; looked for " + names, hint);
  }

  IdxImages images = read_idx_images(images_path);
  Dataset ds;
  ds.labels = read_idx_labels(labels_path, ds.num_classes);
  if (images.count != ds.size())
    throw Error("count mismatch: " + images_path + " has " + std::to_string(images.count) + " images but " +
                labels_path + " has " + std::to_string(ds.size()) + " labels");
  ds.rows = images.rows;
  ds.cols = images.cols;
  ds.images = std::move(images.pixels);
  ds.source = images_path + " + " + labels_path;
  return ds;
}

}  // namespace mnistcnn::data
