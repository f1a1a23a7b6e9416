// Augmentation cost: one image at a time on one thread for each preset (and every
// transform at probability 1, the worst case), and whole Loader batches of 64 with and
// without augmentation on the OpenMP pool. Images are synthetic 28×28 strokes; the cost
// does not depend on the content.
#include <benchmark/benchmark.h>

#include <cmath>
#include <string>
#include <vector>

#include "mnistcnn/data/augment.h"
#include "mnistcnn/data/loader.h"

namespace {

using mnistcnn::data::AugmentOptions;

mnistcnn::data::Dataset strokes(int n) {
  mnistcnn::data::Dataset ds;
  for (int i = 0; i < n; ++i) {
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const double r = std::hypot(x - 13.5 - i % 5, (y - 13.5) * (0.6 + 0.05 * (i % 7)));
        ds.images.push_back(r > 5 && r < 8 ? 255 : 0);
      }
    ds.labels.push_back(static_cast<uint8_t>(i % 10));
  }
  return ds;
}

AugmentOptions options(const std::string& name) {
  if (name != "all") return mnistcnn::data::augment_preset(name);
  AugmentOptions o = mnistcnn::data::augment_preset("strong");
  o.elastic_p = o.thickness_p = o.erase_p = 1.0f;
  return o;
}

void BM_AugmentImage(benchmark::State& state, const std::string& name) {
  const auto ds = strokes(64);
  const mnistcnn::data::Augmenter aug(options(name), 1);
  mnistcnn::data::AugmentScratch scratch;
  std::vector<float> out(784);
  int64_t index = 0;
  for (auto _ : state) {
    aug.apply(ds.images.data() + (index % 64) * 784, out.data(), 28, 28, 0, index, scratch);
    ++index;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_LoaderBatch64(benchmark::State& state, const std::string& name) {
  const auto ds = strokes(1024);
  mnistcnn::data::Loader loader(ds, {}, 64, true, 1, mnistcnn::data::Normalization::standardize());
  loader.set_augment(options(name));
  mnistcnn::Tensor x;
  std::vector<int32_t> y;
  int64_t b = 0;
  for (auto _ : state) {
    loader.batch(b % loader.num_batches(), x, y);
    ++b;
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * 64);
}

BENCHMARK_CAPTURE(BM_AugmentImage, light, std::string("light"));
BENCHMARK_CAPTURE(BM_AugmentImage, standard, std::string("standard"));
BENCHMARK_CAPTURE(BM_AugmentImage, strong, std::string("strong"));
BENCHMARK_CAPTURE(BM_AugmentImage, all, std::string("all"));
BENCHMARK_CAPTURE(BM_LoaderBatch64, none, std::string("none"))->UseRealTime();
BENCHMARK_CAPTURE(BM_LoaderBatch64, standard, std::string("standard"))->UseRealTime();
BENCHMARK_CAPTURE(BM_LoaderBatch64, strong, std::string("strong"))->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
