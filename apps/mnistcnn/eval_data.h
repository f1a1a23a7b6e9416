// What `eval` and `ensemble` judge models on: the test images, or, with the training run's
// --val-split or --val-fold, the training images that run held out (so that models can be
// compared and ensembles chosen without looking at the test set); and a model as an
// ensemble member, with the views of test-time augmentation.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "mnistcnn/data/loader.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/train/ensemble.h"
#include "training_run.h"

namespace mnistcnn::cli {

// Adds --val-split, --val-fold, --fold-seed, --seed and --limit, and rewords --per-class
// (add_data_options, called first, adds f.source's options).
void add_held_out_flags(CLI::App* cmd, DataFlags& f, uint64_t& seed);

struct EvalImages {
  data::Dataset images;             // the test set or the held-out training images
  std::string name;                 // "test images" or "held-out training images"
  std::string description;          // one line for the log: source, selection, what is judged
  std::vector<std::string> notes;   // load_data's notes
  // Each judged image's position in its source (the test or training IDX file; an image
  // folder's listing) and, for image folders, its file (empty for IDX data).
  std::vector<int64_t> source_index;
  std::vector<std::string> files;
};
// classes: the model's class names (the data is relabelled to them by name).
EvalImages load_eval_images(const DataFlags& f, uint64_t seed, const std::vector<std::string>& classes);

// The model as an ensemble member reading `images` with its own normalisation; with tta,
// also the four 1-pixel shifts (train::tta_shifts). The loaders are kept in `loaders`.
train::EnsembleMember eval_member(io::LoadedModel& model, const data::Dataset& images, int64_t batch_size, bool tta,
                                  std::vector<std::unique_ptr<data::Loader>>& loaders);

}  // namespace mnistcnn::cli
