// Image folders from generated PNGs: class order, the same preprocessing as predict,
// files that are skipped or ignored, and every refusal (bad or blank PNG, empty or missing
// folder, a file instead of a folder, limits checked before any image is decoded).
#include "mnistcnn/data/image_folder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/png.h"
#include "support/error_of.h"
#include "support/run_cli.h"

namespace mnistcnn::data {
namespace {

namespace fs = std::filesystem;

class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("imgfolder"); }
  void TearDown() override { fs::remove_all(dir_); }

  // A dark bar (the "digit") of a size depending on `seed` on light paper, w×h, grey or RGB.
  void write_digit(const std::string& rel, int w, int h, int seed, bool rgb = false) {
    const fs::path p = fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    std::vector<uint8_t> px(static_cast<size_t>(w * h * (rgb ? 3 : 1)), 230);
    for (int y = h / 5; y < h - h / 5; ++y)
      for (int x = w / 3; x < w / 3 + 2 + seed % 5 * w / 12; ++x)
        for (int c = 0; c < (rgb ? 3 : 1); ++c) px[static_cast<size_t>((y * w + x) * (rgb ? 3 : 1) + c)] = 20;
    if (rgb)
      io::write_png_rgb(p.string(), w, h, px.data());
    else
      io::write_png_gray(p.string(), w, h, px.data());
  }
  void write_text(const std::string& rel, const std::string& text) {
    fs::create_directories((fs::path(dir_) / rel).parent_path());
    std::ofstream(fs::path(dir_) / rel) << text;
  }
  ImageFolderOptions options() {
    ImageFolderOptions o;
    o.decode = [this](const std::string& p) {
      ++decoded_;
      return io::read_png_gray(p);
    };
    return o;
  }
  static std::string error_of(const std::function<void()>& fn) { return mnistcnn::testing::error_of(fn); }
  std::string dir_;
  int decoded_ = 0;
};

TEST_F(ImageFolderTest, ClassesInNumericOrderAndPredictsPreprocessing) {
  write_digit("10/a.png", 40, 60, 1);
  write_digit("2/b.png", 28, 28, 2, true);
  write_digit("2/a.PNG", 300, 200, 3);
  write_digit("3/sub/c.png", 50, 50, 4);  // nested folders are read too
  write_text("3/notes.txt", "not an image");
  write_text("3/.hidden.png", "hidden files are skipped");
  write_text("README", "top-level files are not classes");
  fs::create_directories(fs::path(dir_) / ".git");
  const ImageFolder f = load_image_folder(dir_, options());
  const Dataset& ds = f.data;
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"2", "3", "10"}));
  EXPECT_EQ(ds.num_classes, 3);
  EXPECT_EQ(ds.labels, (std::vector<uint8_t>{0, 0, 1, 2}));
  EXPECT_EQ(ds.rows, 28);
  EXPECT_EQ(ds.cols, 28);
  EXPECT_EQ(f.files, (std::vector<std::string>{dir_ + "/2/a.PNG", dir_ + "/2/b.png", dir_ + "/3/sub/c.png",
                                               dir_ + "/10/a.png"}));
  EXPECT_EQ(f.ignored, 1);
  EXPECT_TRUE(f.skipped.empty());
  EXPECT_EQ(ds.source, dir_);
  ASSERT_EQ(ds.images.size(), 4u * 784);
  // Byte for byte what `mnistcnn predict` feeds the network (before normalisation).
  for (size_t i = 0; i < f.files.size(); ++i) {
    const auto want = to_bytes(to_mnist_digit(io::read_png_gray(f.files[i])));
    EXPECT_TRUE(std::equal(want.begin(), want.end(), ds.images.begin() + static_cast<std::ptrdiff_t>(i * 784)))
        << f.files[i];
  }
}

TEST_F(ImageFolderTest, NamedClassesSortByName) {
  for (const std::string c : {"sneaker", "Bag", "10", "ankle boot"}) write_digit(c + "/x.png", 30, 30, 1);
  const ImageFolder f = load_image_folder(dir_, options());
  EXPECT_EQ(f.data.class_names, (std::vector<std::string>{"10", "Bag", "ankle boot", "sneaker"}));
}

TEST_F(ImageFolderTest, BadAndBlankImagesStopOrAreSkipped) {
  write_digit("0/good.png", 30, 30, 1);
  write_text("0/broken.png", "not a png at all");
  write_digit("1/good.png", 30, 30, 2);
  std::vector<uint8_t> white(32 * 32, 255);
  io::write_png_gray(dir_ + "/1/blank.png", 32, 32, white.data());
  std::string msg = error_of([&] { load_image_folder(dir_, options()); });
  EXPECT_NE(msg.find(dir_ + "/0/broken.png: not a readable PNG"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--skip-bad"), std::string::npos) << msg;
  fs::remove(dir_ + "/0/broken.png");
  msg = error_of([&] { load_image_folder(dir_, options()); });
  EXPECT_NE(msg.find(dir_ + "/1/blank.png: blank"), std::string::npos) << msg;

  write_text("0/broken.png", "not a png at all");
  auto o = options();
  o.skip_bad = true;
  const ImageFolder f = load_image_folder(dir_, o);
  EXPECT_EQ(f.data.size(), 2);
  EXPECT_EQ(f.data.labels, (std::vector<uint8_t>{0, 1}));
  ASSERT_EQ(f.skipped.size(), 2u);
  EXPECT_EQ(f.skipped[0].path, dir_ + "/0/broken.png");
  EXPECT_EQ(f.skipped[1].path, dir_ + "/1/blank.png");
  EXPECT_NE(f.skipped[1].reason.find("blank"), std::string::npos) << f.skipped[1].reason;
}

TEST_F(ImageFolderTest, RefusesWhatIsNotAnImageFolder) {
  std::string msg = error_of([&] { load_image_folder(dir_, options()); });
  EXPECT_NE(msg.find(dir_ + ": no class folders"), std::string::npos) << msg;
  EXPECT_FALSE(has_class_folders(dir_));
  write_text("file.png", "x");
  msg = error_of([&] { load_image_folder(dir_ + "/file.png", options()); });
  EXPECT_NE(msg.find("file.png: not a directory"), std::string::npos) << msg;
  msg = error_of([&] { load_image_folder(dir_ + "/missing", options()); });
  EXPECT_NE(msg.find("missing: no such directory"), std::string::npos) << msg;

  write_digit("0/a.png", 30, 30, 1);
  write_text("1/a.jpg", "jpeg");
  EXPECT_TRUE(has_class_folders(dir_));
  msg = error_of([&] { load_image_folder(dir_, options()); });
  EXPECT_NE(msg.find(dir_ + "/1: class folder without a .png file (1 other file there"), std::string::npos) << msg;

  fs::remove_all(dir_ + "/1");
  fs::create_directories(dir_ + "/bad\x01name");
  write_digit("bad\x01name/a.png", 30, 30, 1);
  msg = error_of([&] { load_image_folder(dir_, options()); });
  EXPECT_NE(msg.find("not printable UTF-8"), std::string::npos) << msg;
  fs::remove_all(dir_ + "/bad\x01name");
  EXPECT_NE(error_of([&] { load_image_folder(dir_, {}); }).find("no image decoder"), std::string::npos);
}

TEST_F(ImageFolderTest, LimitsAreCheckedBeforeDecoding) {
  for (int i = 0; i < 4; ++i) write_digit(std::to_string(i % 3) + "/" + std::to_string(i) + ".png", 30, 30, i);
  auto o = options();
  o.max_files = 3;
  std::string msg = error_of([&] { load_image_folder(dir_, o); });
  EXPECT_NE(msg.find("more than 3 PNG files"), std::string::npos) << msg;
  EXPECT_EQ(decoded_, 0);
  o = options();
  o.max_classes = 2;
  msg = error_of([&] { load_image_folder(dir_, o); });
  EXPECT_NE(msg.find("more than 2 class folders"), std::string::npos) << msg;
  EXPECT_EQ(decoded_, 0);
  // A FIFO named like a PNG is not opened (it would block); it counts as ignored.
  ASSERT_EQ(::mkfifo((dir_ + "/0/pipe.png").c_str(), 0600), 0);
  const ImageFolder f = load_image_folder(dir_, options());
  EXPECT_EQ(f.data.size(), 4);
  EXPECT_EQ(f.ignored, 1);
}

}  // namespace
}  // namespace mnistcnn::data
