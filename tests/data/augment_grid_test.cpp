// The visual check of augmentation: one real test digit per class (columns) as stored,
// then under light, standard (two epochs) and strong (three epochs), written as a PNG to
// the test temporary directory (printed; copy it to docs/img/augment_grid.png to refresh
// the picture there). Checks the file reads back as written.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "mnistcnn/data/augment.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/io/png.h"
#include "support/mnist_files.h"

namespace mnistcnn {
namespace {

constexpr int kZoom = 2, kGap = 2, kTile = 28 * kZoom + kGap;

TEST(AugmentGrid, WritesAPngOfAugmentedDigits) {
  MNISTCNN_REQUIRE_MNIST();
  const data::Dataset test = data::load_idx_split(testing::mnist_dir(), data::Split::Test);
  std::vector<int64_t> first(10, -1);  // the first test image of each class
  for (int64_t i = 0; i < test.size(); ++i)
    if (first[test.labels[static_cast<size_t>(i)]] < 0) first[test.labels[static_cast<size_t>(i)]] = i;

  struct Row {
    const char* preset;
    int64_t epoch;
  };
  const std::vector<Row> rows = {{"none", 0},   {"light", 0},  {"standard", 0}, {"standard", 1},
                                 {"strong", 0}, {"strong", 1}, {"strong", 2}};
  const int width = 10 * kTile + kGap, height = static_cast<int>(rows.size()) * kTile + kGap;
  std::vector<uint8_t> grid(static_cast<size_t>(width * height), 48);  // grey gaps between black tiles
  data::AugmentScratch scratch;
  std::vector<float> out(784);
  for (size_t r = 0; r < rows.size(); ++r) {
    const data::Augmenter aug(data::augment_preset(rows[r].preset), 1);
    for (int c = 0; c < 10; ++c) {
      const int64_t idx = first[static_cast<size_t>(c)];
      ASSERT_GE(idx, 0);
      aug.apply(test.images.data() + idx * 784, out.data(), 28, 28, rows[r].epoch, idx, scratch);
      for (int y = 0; y < 28 * kZoom; ++y)
        for (int x = 0; x < 28 * kZoom; ++x) {
          const int gy = kGap + static_cast<int>(r) * kTile + y, gx = kGap + c * kTile + x;
          const float v = out[static_cast<size_t>((y / kZoom) * 28 + x / kZoom)];
          grid[static_cast<size_t>(gy * width + gx)] = static_cast<uint8_t>(v * 255.0f + 0.5f);
        }
    }
  }
  const std::string path = ::testing::TempDir() + "augment_grid.png";
  io::write_png_gray(path, width, height, grid.data());
  std::printf("augmentation grid (rows: none, light, standard e0/e1, strong e0/e1/e2): %s\n", path.c_str());

  const io::GrayImage back = io::read_png_gray(path);
  ASSERT_EQ(back.width, width);
  ASSERT_EQ(back.height, height);
  // The first row is the digits as stored; the standard rows differ from them.
  int64_t same_as_stored = 0, standard_differs = 0;
  for (int c = 0; c < 10; ++c) {
    const uint8_t* src = test.images.data() + first[static_cast<size_t>(c)] * 784;
    for (int p = 0; p < 784; ++p) {
      const int gx = kGap + c * kTile + (p % 28) * kZoom, gy0 = kGap + (p / 28) * kZoom, gy2 = gy0 + 2 * kTile;
      same_as_stored += static_cast<int>(back.value[static_cast<size_t>(gy0 * width + gx)] * 255.0f + 0.5f) == src[p];
      standard_differs += grid[static_cast<size_t>(gy2 * width + gx)] != src[p];
    }
  }
  EXPECT_EQ(same_as_stored, 7840);
  EXPECT_GT(standard_differs, 1000);
}

}  // namespace
}  // namespace mnistcnn
