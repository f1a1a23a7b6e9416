// mnistcnn data export: a data selection written out as an image folder (DIR/<class>/*.png,
// 28×28, ink white on black as MNIST stores it), optionally through a seeded augmentation:
// to look at the data, to hand a subset to another tool, or to make test material such as
// a "writer" with a style of its own for the corrections demo.
#include <filesystem>

#include "augment_args.h"
#include "commands.h"
#include "common.h"
#include "data_args.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/io/png.h"

namespace mnistcnn::cli {

namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  DataArgs data;
  AugmentArgs augment;
  std::string split = "test", out;
  int64_t limit = 0;
  uint64_t seed = 1;
};

// A class name as a folder name: no separators, nothing hidden.
std::string folder_name(const std::string& name) {
  std::string s;
  for (char c : name) s += (c == '/' || c == '\\' || c == '\0') ? '_' : c;
  if (s.empty() || s[0] == '.') s = "_" + s;
  return s;
}

void run_export(const ExportArgs& a) {
  const data::AugmentOptions aug = resolve_augment(a.augment);
  const bool train = a.split == "train";
  const LoadedData d = load_data(a.data, a.seed, train ? DataParts::TrainAndTest : DataParts::TestOnly);
  const data::Dataset& ds = train ? d.train : d.test;
  std::vector<int64_t> idx;
  if (a.limit > 0 && a.limit < ds.size()) {
    idx = data::permutation(ds.size(), a.seed, 0xE4907);
    idx.resize(static_cast<size_t>(a.limit));
    std::sort(idx.begin(), idx.end());
  }
  data::Loader loader(ds, idx, 256, false, a.seed, data::Normalization::scale());
  loader.set_augment(aug);
  loader.start_epoch(0);
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) throw Error(a.out + ": cannot create the directory: " + ec.message());
  const auto names = data::effective_class_names(ds);
  for (const auto& n : names) {
    fs::create_directories(fs::path(a.out) / folder_name(n), ec);
    if (ec) throw Error(a.out + ": cannot create a class folder: " + ec.message());
  }
  Tensor x;
  std::vector<int32_t> y;
  const int w = static_cast<int>(ds.cols), h = static_cast<int>(ds.rows);
  std::vector<uint8_t> bytes(static_cast<size_t>(w * h));
  int64_t written = 0;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    loader.batch(b, x, y);
    for (size_t i = 0; i < y.size(); ++i) {
      const float* img = x.data() + static_cast<int64_t>(i) * w * h;
      for (size_t p = 0; p < bytes.size(); ++p)
        bytes[p] = static_cast<uint8_t>(std::lround(std::clamp(img[p], 0.0f, 1.0f) * 255.0f));
      const int64_t source = loader.indices()[static_cast<size_t>(b * loader.batch_size()) + i];
      char file[48];
      std::snprintf(file, sizeof file, "%s-%06lld.png", a.split.c_str(), static_cast<long long>(source));
      io::write_png_gray((fs::path(a.out) / folder_name(names[static_cast<size_t>(y[i])]) / file).string(), w, h,
                         bytes.data());
      ++written;
    }
  }
  note(d.description);
  std::printf("wrote %s images in %zu class folders to %s%s\n", human_count(written).c_str(), names.size(),
              a.out.c_str(), aug.any() ? (" (augmented: " + data::augment_to_string(aug) + ")").c_str() : "");
}

}  // namespace

void add_data_export_command(CLI::App* data) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = data->add_subcommand("export", "Write a data selection as an image folder (DIR/<class>/*.png), optionally augmented");
  add_data_options(cmd, a->data);
  add_augment_options(cmd, a->augment);
  cmd->add_option("--split", a->split, "train | test")->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  cmd->add_option("--limit", a->limit, "a seeded random subset of this many images")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--seed", a->seed, "seed for --per-class, --limit and the augmentation")->capture_default_str();
  cmd->add_option("--out", a->out, "folder to write")->required();
  cmd->callback([a] { run_export(*a); });
}

}  // namespace mnistcnn::cli
