// The data options train, finetune and eval share: --data (an IDX directory or an image
// folder, told apart by what it holds), --classes, --per-class and the image-folder
// options, and one function that loads what a command trains and tests on.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "mnistcnn/data/dataset.h"

namespace mnistcnn::cli {

struct DataArgs {
  std::string data = "data/mnist";  // IDX directory or image folder (DIR/<class>/*.png)
  std::string classes;              // --classes text ("0-4", "5,7,9"); empty: every class
  int64_t per_class = 0;            // --per-class N: few-shot training set; 0: every image
  // Image folders have no test split of their own: --test-split of each class is held
  // out as the test set, chosen with --split-seed, which is kept apart from --seed so that
  // train and eval pick the same images. 1: the whole folder is the test set (eval only).
  double test_split = 0.2;
  uint64_t split_seed = 0;
  bool skip_bad = false;  // image folders: skip unreadable or blank PNGs instead of stopping
  CLI::Option* test_split_option = nullptr;
  CLI::Option* split_seed_option = nullptr;
  CLI::Option* skip_bad_option = nullptr;
};

// Adds --data, --classes, --per-class, --test-split, --split-seed and --skip-bad to cmd.
void add_data_options(CLI::App* cmd, DataArgs& a);

// TrainOnly: an IDX directory's test files are not read (model selection with --no-test, or
// judging held-out training images); an image folder still holds its test part out.
enum class DataParts { TrainAndTest, TestOnly, TrainOnly };
enum class DataKind { Idx, ImageFolder };

struct LoadedData {
  DataKind kind = DataKind::Idx;
  data::Dataset train, test;             // train is empty with TestOnly, test with TrainOnly
  std::vector<std::string> class_names;  // label order of both sets (store them in the model)
  std::vector<std::string> train_files, test_files;  // image folders: the file of each image
  // Each image's position in its source (the IDX file; an image folder's file listing),
  // kept through --classes and --per-class so that results can name the image.
  std::vector<int64_t> train_index, test_index;
  std::string description;               // one line for the log: source, selection, sizes
  std::vector<std::string> notes;        // lines for the log: skipped files, classes short of --per-class
};

// IDX when DIR holds train-images or t10k-images (any accepted name), an image folder when
// it has subfolders; Error naming DIR otherwise.
DataKind detect_data_kind(const std::string& dir);

// Loads the data: IDX train/test, or an image folder split into train/test. --classes
// applies to both (labels renumbered 0..k-1 in order, names kept), --per-class to the
// training set only (seeded by `seed`, the command's --seed; with TestOnly it is noted and
// ignored, so one command line serves train and eval). Known IDX datasets (Fashion-MNIST)
// get their class names. align_to: a model's class names; both sets are relabelled to
// them by name (a corrections folder "3", "7" gets labels 3 and 7), classes the model does
// not know are an Error. Throws Error naming the flag or file; never returns an empty set it
// was asked for.
LoadedData load_data(const DataArgs& a, uint64_t seed, DataParts parts = DataParts::TrainAndTest,
                     const std::vector<std::string>* align_to = nullptr);

}  // namespace mnistcnn::cli
