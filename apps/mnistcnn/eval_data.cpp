#include "eval_data.h"

#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/subset.h"

namespace mnistcnn::cli {

void add_held_out_flags(CLI::App* cmd, DataFlags& f, uint64_t& seed) {
  auto* split = cmd->add_option("--val-split", f.val_split,
                                "judge the model on the training images that `train --val-split` with the same "
                                "--seed (and --limit, --per-class, --classes) held out, not on the test set")
                    ->check(finite_number())->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--val-fold", f.val_fold,
                  "I/K: judge the model on fold I of K of the training images, as `train --val-fold` held it out "
                  "(with the same --fold-seed), not on the test set")
      ->excludes(split);
  cmd->add_option("--fold-seed", f.fold_seed, "seed of the --val-fold shuffle, as given to train")->capture_default_str();
  cmd->add_option("--seed", seed, "the training run's --seed: it picks the --val-split, --limit and --per-class images")
      ->capture_default_str();
  cmd->add_option("--limit", f.limit, "the training run's --limit")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  // add_data_options words it for training; here it only picks which training images were held out.
  if (auto* per_class = cmd->get_option_no_throw("--per-class"))
    per_class->description("the training run's --per-class (with --val-split or --val-fold; without them every test "
                           "image is judged)");
}

EvalImages load_eval_images(const DataFlags& f, uint64_t seed, const std::vector<std::string>& classes) {
  EvalImages e;
  const bool held_out = f.val_split != 0 || !f.val_fold.empty();
  if (!held_out && f.limit > 0) throw Error("--limit picks training images: give it with --val-split or --val-fold");
  LoadedData d = load_data(f.source, seed, held_out ? DataParts::TrainOnly : DataParts::TestOnly, &classes);
  e.description = std::move(d.description);
  e.notes = std::move(d.notes);
  if (!held_out) {
    e.images = std::move(d.test);
    e.source_index = std::move(d.test_index);
    e.files = std::move(d.test_files);
    e.name = "test images";
    return e;
  }
  const auto indices = split_training_images(d.train, f, seed).second;
  if (indices.empty()) throw Error("--val-split " + fmt("%g", f.val_split) + " holds out no training images");
  e.images = data::take(d.train, indices);
  for (int64_t i : indices) {
    e.source_index.push_back(d.train_index[static_cast<size_t>(i)]);
    if (!d.train_files.empty()) e.files.push_back(d.train_files[static_cast<size_t>(i)]);
  }
  e.name = "held-out training images";
  const std::string how = f.val_fold.empty()
                              ? "--val-split " + fmt("%g", f.val_split) + " --seed " + std::to_string(seed)
                              : "--val-fold " + f.val_fold + " --fold-seed " + std::to_string(f.fold_seed);
  e.description += "; judged on " + human_count(e.images.size()) + " training images held out by " + how +
                   (f.limit > 0 ? " --limit " + std::to_string(f.limit) : "") + " (the test set is not used)";
  return e;
}

train::EnsembleMember eval_member(io::LoadedModel& model, const data::Dataset& images, int64_t batch_size, bool tta,
                                  std::vector<std::unique_ptr<data::Loader>>& loaders) {
  train::EnsembleMember member{&model.net, nullptr, {}};
  const auto shifts = tta ? train::tta_shifts() : std::vector<std::pair<int, int>>{{0, 0}};
  for (const auto& [dx, dy] : shifts) {
    loaders.push_back(
        std::make_unique<data::Loader>(images, std::vector<int64_t>{}, batch_size, false, 0, model.info.normalization));
    loaders.back()->set_shift(dx, dy);
    if (!member.data)
      member.data = loaders.back().get();
    else
      member.views.push_back(loaders.back().get());
  }
  return member;
}

}  // namespace mnistcnn::cli
