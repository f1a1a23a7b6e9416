// load_idx_split: the real MNIST (when present), file-name variants, a test-only
// directory, and the errors for missing files and mismatched counts.
#include "mnistcnn/data/dataset.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "mnistcnn/core/error.h"
#include "support/error_of.h"

namespace fs = std::filesystem;
using mnistcnn::Error;
using namespace mnistcnn::data;

namespace {

using Bytes = std::vector<uint8_t>;
const fs::path kRealMnist = fs::path(MNISTCNN_SOURCE_DIR) / ".." / "shared" / "data" / "mnist";

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mnistcnn-dataset-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const Bytes& b, bool gz = false) {
    std::string p = (dir_ / name).string();
    if (gz) {
      gzFile f = gzopen(p.c_str(), "wb");
      gzwrite(f, b.data(), unsigned(b.size()));
      gzclose(f);
    } else {
      std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    }
  }

  fs::path dir_;
};

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

Bytes images(uint32_t count, uint32_t rows, uint32_t cols) {
  Bytes b;
  for (uint32_t v : {0x803u, count, rows, cols}) put_be32(b, v);
  for (uint32_t i = 0; i < count * rows * cols; ++i) b.push_back(uint8_t(i));
  return b;
}

Bytes labels(const Bytes& values) {
  Bytes b;
  put_be32(b, 0x801);
  put_be32(b, uint32_t(values.size()));
  b.insert(b.end(), values.begin(), values.end());
  return b;
}

using mnistcnn::testing::error_of;

}  // namespace

TEST(DatasetRealMnist, LoadsBothSplits) {
  if (!fs::exists(kRealMnist / "train-images-idx3-ubyte.gz")) GTEST_SKIP() << "real MNIST not found at " << kRealMnist;
  Dataset train = load_idx_split(kRealMnist.string(), Split::Train);
  Dataset test = load_idx_split(kRealMnist.string(), Split::Test);
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  for (const Dataset* d : {&train, &test}) {
    EXPECT_EQ(d->rows, 28);
    EXPECT_EQ(d->cols, 28);
    EXPECT_EQ(d->num_classes, 10);
    EXPECT_EQ(int64_t(d->images.size()), d->size() * 28 * 28);
    EXPECT_NE(d->source.find("images"), std::string::npos);
  }
  EXPECT_EQ(Bytes(train.labels.begin(), train.labels.begin() + 5), (Bytes{5, 0, 4, 1, 9}));
  EXPECT_EQ(Bytes(test.labels.begin(), test.labels.begin() + 5), (Bytes{7, 2, 1, 0, 4}));
  // Every class occurs; MNIST digits are white strokes on a black border.
  std::vector<int> per_class(10);
  for (auto l : train.labels) per_class[l]++;
  for (int c = 0; c < 10; ++c) EXPECT_GT(per_class[c], 5000) << "class " << c;
  EXPECT_EQ(train.images[0], 0);
  EXPECT_EQ(*std::max_element(train.images.begin(), train.images.begin() + 784), 255);
}

TEST_F(DatasetTest, TestOnlyDirectoryLoadsTestSplit) {
  if (!fs::exists(kRealMnist / "t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "real MNIST not found at " << kRealMnist;
  for (auto name : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    fs::copy_file(kRealMnist / name, dir_ / name);
  EXPECT_EQ(load_idx_split(dir_.string(), Split::Test).size(), 10000);
  std::string msg = error_of([&] { load_idx_split(dir_.string(), Split::Train); });
  EXPECT_NE(msg.find(dir_.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("train-images-idx3-ubyte.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mnistcnn data fetch mnist --dir " + dir_.string()), std::string::npos) << msg;
}

TEST_F(DatasetTest, AcceptsDottedNamesRawAndGzip) {
  write("t10k-images.idx3-ubyte", images(3, 4, 5));
  write("t10k-labels.idx1-ubyte.gz", labels({2, 0, 9}), true);
  Dataset d = load_idx_split(dir_.string(), Split::Test);
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.rows, 4);
  EXPECT_EQ(d.cols, 5);
  EXPECT_EQ(d.labels, (Bytes{2, 0, 9}));
  EXPECT_EQ(d.images.size(), 60u);
  EXPECT_EQ(d.images[59], 59);
}

TEST_F(DatasetTest, CanonicalNameWinsOverVariants) {
  write("train-images-idx3-ubyte.gz", images(2, 2, 2), true);
  write("train-images.idx3-ubyte", images(1, 2, 2));
  write("train-labels-idx1-ubyte", labels({1, 1}));
  EXPECT_EQ(load_idx_split(dir_.string(), Split::Train).size(), 2);
}

TEST_F(DatasetTest, CountMismatchNamesBothFiles) {
  write("train-images-idx3-ubyte", images(3, 2, 2));
  write("train-labels-idx1-ubyte", labels({1, 2}));
  std::string msg = error_of([&] { load_idx_split(dir_.string(), Split::Train); });
  EXPECT_NE(msg.find("mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir_ / "train-images-idx3-ubyte").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir_ / "train-labels-idx1-ubyte").string()), std::string::npos) << msg;
}

TEST_F(DatasetTest, MissingLabelsListsWhatWasLookedFor) {
  write("t10k-images-idx3-ubyte", images(1, 2, 2));
  std::string msg = error_of([&] { load_idx_split(dir_.string(), Split::Test); });
  EXPECT_NE(msg.find("labels"), std::string::npos) << msg;
  for (auto name : idx_file_candidates("t10k-labels-idx1-ubyte")) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  EXPECT_NE(msg.find("hint: mnistcnn data fetch mnist --dir"), std::string::npos) << msg;
}

TEST_F(DatasetTest, MissingDirectoryAndDirectoryInPlaceOfFile) {
  std::string missing = (dir_ / "absent").string();
  std::string msg = error_of([&] { load_idx_split(missing, Split::Train); });
  EXPECT_NE(msg.find(missing + ": no such directory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mnistcnn data fetch mnist"), std::string::npos) << msg;

  fs::create_directory(dir_ / "t10k-images-idx3-ubyte");
  write("t10k-labels-idx1-ubyte", labels({1}));
  msg = error_of([&] { load_idx_split(dir_.string(), Split::Test); });
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
}

TEST(DatasetNames, Candidates) {
  EXPECT_EQ(idx_file_candidates("t10k-images-idx3-ubyte"),
            (std::vector<std::string>{"t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz", "t10k-images.idx3-ubyte",
                                      "t10k-images.idx3-ubyte.gz"}));
  EXPECT_EQ(split_name(Split::Train), "train");
  EXPECT_EQ(split_name(Split::Test), "test");
}

