// Loading what a command trains and tests on: detect the kind of --data, read it, split an
// image folder, apply --classes and --per-class, align to a model's classes, and say
// what was done in one line for the log.
#include "data_args.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/fetch.h"
#include "mnistcnn/data/image_folder.h"
#include "mnistcnn/data/subset.h"
#include "mnistcnn/io/png.h"

namespace mnistcnn::cli {

namespace fs = std::filesystem;

namespace {

bool has_idx_images(const std::string& dir) {
  std::error_code ec;
  for (auto split : {data::Split::Train, data::Split::Test})
    for (const auto& name : data::idx_file_candidates(data::idx_split_names(split).first))
      if (fs::exists(fs::path(dir) / name, ec)) return true;
  return false;
}

std::string join_names(const std::vector<std::string>& names, size_t max = 12) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max) out += ", ...";
  return out;
}

// The elements of v at `positions` (increasing), in that order; v empty stays empty.
template <typename T>
void keep_positions(std::vector<T>& v, const std::vector<int64_t>& positions) {
  if (v.empty()) return;
  std::vector<T> kept;
  kept.reserve(positions.size());
  for (int64_t i : positions) kept.push_back(v[static_cast<size_t>(i)]);
  v = std::move(kept);
}

// Applies --classes to one set, its files (when it has them) and its source positions;
// errors name the flag.
void select(const DataArgs& a, data::Dataset& ds, std::vector<std::string>& files, std::vector<int64_t>& index) {
  std::vector<int> idx;
  try {
    idx = data::resolve_classes(ds, data::parse_class_list(a.classes));
  } catch (const Error& e) {
    throw Error("--classes " + a.classes + ": " + std::string(e.what()));
  }
  std::vector<int64_t> kept;  // select_classes keeps the order, so files and positions follow by label
  for (int64_t i = 0; i < ds.size(); ++i)
    if (std::find(idx.begin(), idx.end(), ds.labels[static_cast<size_t>(i)]) != idx.end()) kept.push_back(i);
  keep_positions(files, kept);
  keep_positions(index, kept);
  ds = data::select_classes(ds, idx);
}

std::vector<int64_t> all_positions(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

// The train/test split of an IDX directory; known datasets get their class names.
void load_idx(const DataArgs& a, bool want_train, bool want_test, LoadedData& out, std::vector<std::string>& what) {
  for (auto* o : {a.test_split_option, a.split_seed_option, a.skip_bad_option})
    if (o && o->count()) throw Error(o->get_name() + " applies to image folders; " + a.data + " is an IDX directory");
  if (want_train) out.train = data::load_idx_split(a.data, data::Split::Train);
  if (want_test) out.test = data::load_idx_split(a.data, data::Split::Test);
  out.train_index = all_positions(out.train.size());
  out.test_index = all_positions(out.test.size());
  const data::KnownDataset* known = data::identify_by_labels(want_test ? out.test.labels : out.train.labels);
  if (known && !known->class_names.empty()) out.train.class_names = out.test.class_names = known->class_names;
  what.push_back(a.data + " (IDX" + (known ? ", " + known->name : "") + ")");
}

// An image folder, its test part held out per class (--test-split, --split-seed).
void load_folder(const DataArgs& a, bool want_train, bool want_test, LoadedData& out, std::vector<std::string>& what) {
  if (want_train && a.test_split >= 1.0)
    throw Error("--test-split 1 leaves no training images in " + a.data, "hold out less, e.g. --test-split 0.2");
  data::ImageFolder folder = data::load_image_folder(
      a.data, {.decode = [](const std::string& p) { return io::read_png_gray(p); }, .skip_bad = a.skip_bad});
  if (!folder.skipped.empty()) {
    std::string list;
    for (size_t i = 0; i < folder.skipped.size() && i < 5; ++i) list += "\n  " + folder.skipped[i].reason;
    if (folder.skipped.size() > 5) list += "\n  ...";
    out.notes.push_back("skipped " + std::to_string(folder.skipped.size()) +
                        (folder.skipped.size() == 1 ? " unreadable or blank image:" : " unreadable or blank images:") +
                        list);
  }
  if (folder.ignored > 0)
    out.notes.push_back("ignored " + std::to_string(folder.ignored) + (folder.ignored == 1 ? " file" : " files") +
                        " in " + a.data + ": not .png, or not a regular file");
  std::vector<int64_t> train_idx, test_idx;
  if (a.test_split >= 1.0) {
    for (int64_t i = 0; i < folder.data.size(); ++i) test_idx.push_back(i);
  } else {
    std::tie(train_idx, test_idx) = data::stratified_split(folder.data, a.test_split, a.split_seed);
  }
  if (want_train) {
    out.train = data::take(folder.data, train_idx);
    out.train_files = folder.files;
    keep_positions(out.train_files, train_idx);
    out.train_index = train_idx;
  }
  if (want_test) {
    out.test = data::take(folder.data, test_idx);
    out.test_files = folder.files;
    keep_positions(out.test_files, test_idx);
    out.test_index = test_idx;
  }
  what.push_back(a.data + " (image folder of " + human_count(folder.data.size()) + " PNGs; test = " +
                 (a.test_split >= 1.0 ? std::string("all of it") : percent(a.test_split, 0) + " of each class") +
                 ", split seed " + std::to_string(a.split_seed) + ")");
}

}  // namespace

void add_data_options(CLI::App* cmd, DataArgs& a) {
  cmd->add_option("--data", a.data,
                  "an IDX directory (train-/t10k- images and labels, raw or .gz) or an image folder "
                  "(DIR/<class>/*.png, any size, preprocessed as predict does)")
      ->capture_default_str();
  cmd->add_option("--classes", a.classes, "keep only these classes, renumbered in order: 0-4, 5,7,9 or 0-2,7")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              data::parse_class_list(text, "");  // CLI11 names the flag itself
              return {};
            } catch (const Error& e) {
              return e.what();
            }
          },
          "LIST"));
  cmd->add_option("--per-class", a.per_class,
                  "train on the first N images of each class after a seeded shuffle (few-shot; --seed picks them)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  a.test_split_option =
      cmd->add_option("--test-split", a.test_split,
                      "image folders: fraction of each class held out as the test set (1: all of it, for eval)")
          ->check(finite_number())
          ->check(CLI::Range(0.01, 1.0))
          ->capture_default_str();
  a.split_seed_option =
      cmd->add_option("--split-seed", a.split_seed, "image folders: seed of the train/test split")
          ->capture_default_str();
  a.skip_bad_option = cmd->add_flag("--skip-bad", a.skip_bad, "image folders: skip unreadable or blank PNGs (listed)");
}

DataKind detect_data_kind(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw Error(dir + ": no such directory; expected an IDX directory or an image folder",
                "mnistcnn data fetch mnist --dir " + dir + ", or a folder with one subfolder of PNGs per class");
  if (!fs::is_directory(dir, ec))
    throw Error(dir + ": not a directory; expected an IDX directory or an image folder (DIR/<class>/*.png)");
  if (has_idx_images(dir)) return DataKind::Idx;
  if (data::has_class_folders(dir)) return DataKind::ImageFolder;
  throw Error(dir + ": neither an IDX directory (no train-images-idx3-ubyte or t10k-images-idx3-ubyte, raw or .gz) "
                    "nor an image folder (no class subfolders)",
              "mnistcnn data fetch mnist --dir " + dir + ", or lay PNGs out as " + dir + "/<class>/<image>.png");
}

LoadedData load_data(const DataArgs& a, uint64_t seed, DataParts parts, const std::vector<std::string>* align_to) {
  const bool want_train = parts != DataParts::TestOnly;
  const bool want_test = parts != DataParts::TrainOnly;
  LoadedData out;
  out.kind = detect_data_kind(a.data);
  std::vector<std::string> what;  // pieces of the description
  if (out.kind == DataKind::Idx)
    load_idx(a, want_train, want_test, out, what);
  else
    load_folder(a, want_train, want_test, out, what);
  const data::Dataset& first = want_test ? out.test : out.train;  // the set whose classes name both
  const int all_classes = first.num_classes;
  if (!a.classes.empty()) {
    if (want_test) select(a, out.test, out.test_files, out.test_index);
    if (want_train) select(a, out.train, out.train_files, out.train_index);
    const int k = first.num_classes;
    what.push_back("classes " + a.classes + " (" + std::to_string(k) + " of " + std::to_string(all_classes) +
                   ", numbered " + (k == 1 ? "0" : "0-" + std::to_string(k - 1)) + ")");
  }
  if (a.per_class > 0) {
    if (!want_train) {
      out.notes.push_back("--per-class applies to training data; evaluating on every test image");
    } else {
      data::PerClassSubset sub = data::per_class(out.train, a.per_class, seed);
      keep_positions(out.train_files, sub.indices);
      keep_positions(out.train_index, sub.indices);
      const auto names = data::effective_class_names(out.train);
      for (const auto& s : sub.short_classes)
        out.notes.push_back("--per-class " + std::to_string(a.per_class) + ": class " +
                            names[static_cast<size_t>(s.label)] + " has only " + std::to_string(s.available) +
                            " training images; all kept");
      out.train = std::move(sub.data);
      what.push_back(std::to_string(a.per_class) + " per class (seed " + std::to_string(seed) + ")");
    }
  }
  if (align_to) {
    try {
      if (want_train) data::align_to_classes(out.train, *align_to);
      if (want_test) data::align_to_classes(out.test, *align_to);
    } catch (const Error& e) {
      throw Error("--data " + a.data + ": " + std::string(e.what()));
    }
  }
  out.class_names = data::effective_class_names(first);
  if (want_test && out.test.size() == 0)
    throw Error("--data " + a.data + ": no test images" + (a.classes.empty() ? "" : " in classes " + a.classes),
                out.kind == DataKind::ImageFolder ? "add images, or hold out more with --test-split" : "");
  if (want_train && out.train.size() == 0)
    throw Error("--data " + a.data + ": no training images" + (a.classes.empty() ? "" : " in classes " + a.classes));
  std::string sizes = (want_train ? "train " + human_count(out.train.size()) + " images" : std::string()) +
                      (want_train && want_test ? ", " : "") +
                      (want_test                      ? "test " + human_count(out.test.size())
                       : out.kind == DataKind::Idx ? std::string(" (test files not read)")
                                                   : std::string(" (test part not used)")) +
                      "; " + std::to_string(out.class_names.size()) +
                      (out.class_names.size() == 1 ? " class: " : " classes: ") + join_names(out.class_names);
  what.push_back(sizes);
  for (const auto& w : what) out.description += (out.description.empty() ? "" : "; ") + w;
  return out;
}

}  // namespace mnistcnn::cli
