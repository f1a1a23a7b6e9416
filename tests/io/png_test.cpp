// PNG: our writers round-trip; grey, RGB, 16-bit, palette and alpha files made with
// libpng's own writer read back as the right grey levels; broken, truncated and
// oversized files are refused by name before any pixel memory is allocated.
#include "mnistcnn/io/png.h"
#include "support/png_files.h"

#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/safetensors.h"

namespace mnistcnn::io {
namespace {

namespace fs = std::filesystem;

class PngTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("mnistcnn_png_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes with libpng's simplified writer in any format, independent of our writer.
  std::string libpng_write(const std::string& name, int w, int h, png_uint_32 format,
                           const void* pixels, const void* colormap = nullptr, int entries = 0) {
    png_image img{};
    img.version = PNG_IMAGE_VERSION;
    img.width = static_cast<png_uint_32>(w);
    img.height = static_cast<png_uint_32>(h);
    img.format = format;
    img.colormap_entries = static_cast<png_uint_32>(entries);
    std::string p = path(name);
    EXPECT_TRUE(png_image_write_to_file(&img, p.c_str(), 0, pixels, 0, colormap)) << img.message;
    png_image_free(&img);
    return p;
  }

  fs::path dir_;
};

std::vector<uint8_t> file_contents(const std::string& p) { return read_file_bytes(p); }

float srgb_encode(float linear) {
  return linear <= 0.0031308f ? 12.92f * linear : 1.055f * std::pow(linear, 1 / 2.4f) - 0.055f;
}

TEST_F(PngTest, GreyRoundTripIsExact) {
  const int w = 37, h = 23;
  std::vector<uint8_t> px(w * h);
  for (int i = 0; i < w * h; ++i) px[i] = static_cast<uint8_t>((i * 7) % 256);
  write_png_gray(path("g.png"), w, h, px.data());
  GrayImage img = read_png_gray(path("g.png"));
  ASSERT_EQ(img.width, w);
  ASSERT_EQ(img.height, h);
  ASSERT_EQ(img.value.size(), px.size());
  for (int i = 0; i < w * h; ++i) {
    ASSERT_EQ(img.value[i], px[i] / 255.0f) << i;
    ASSERT_EQ(img.alpha[i], 1.0f);
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(PngTest, RgbReadsAsLuminance) {
  // Grey pixels, then pure red, green, blue.
  const int w = 5, h = 2;
  const uint8_t rgb[w * h * 3] = {0,   0,   0,   64, 64,  64, 128, 128, 128, 200, 200, 200, 255, 255, 255,
                                 255, 0,   0,   0,  255, 0,  0,   0,   255, 255, 255, 255, 0,   0,   0};
  write_png_rgb(path("c.png"), w, h, rgb);
  GrayImage img = read_png_gray(path("c.png"));
  ASSERT_EQ(img.width, w);
  const int grey[] = {0, 64, 128, 200, 255};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(img.value[i], grey[i] / 255.0f, 1.01f / 255) << i;
  float r = img.value[5], g = img.value[6], b = img.value[7];
  EXPECT_GT(g, r);
  EXPECT_GT(r, b);
  EXPECT_GT(b, 0.0f);
  EXPECT_LT(g, 1.0f);
}

TEST_F(PngTest, SixteenBitLinearIsConverted) {
  const uint16_t px[4] = {0, 65535, 32768, 6554};
  std::string p = libpng_write("16.png", 2, 2, PNG_FORMAT_LINEAR_Y, px);
  GrayImage img = read_png_gray(p);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(img.value[i], srgb_encode(px[i] / 65535.0f), 2.5f / 255) << i;  // libpng's tables
}

TEST_F(PngTest, PaletteIsExpanded) {
  const uint8_t colormap[4 * 3] = {0, 0, 0, 255, 255, 255, 100, 100, 100, 30, 30, 30};
  const uint8_t idx[6] = {0, 1, 2, 3, 2, 1};
  std::string p = libpng_write("pal.png", 3, 2, PNG_FORMAT_RGB_COLORMAP, idx, colormap, 4);
  GrayImage img = read_png_gray(p);
  ASSERT_EQ(img.width, 3);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(img.value[i], colormap[3 * idx[i]] / 255.0f, 1.01f / 255) << i;
}

TEST_F(PngTest, AlphaIsKept) {
  // Grey + alpha: a black stroke on a transparent canvas, as browsers export.
  const uint8_t ga[8] = {0, 255, 0, 128, 0, 0, 200, 64};
  GrayImage img = read_png_gray(libpng_write("ga.png", 2, 2, PNG_FORMAT_GA, ga));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(img.alpha[i], ga[2 * i + 1] / 255.0f) << i;
  EXPECT_EQ(img.value[0], 0.0f);
  EXPECT_EQ(img.value[1], 0.0f);
  EXPECT_NEAR(img.value[3], 200 / 255.0f, 1.01f / 255);

  const uint8_t rgba[8] = {255, 255, 255, 255, 90, 90, 90, 77};
  GrayImage c = read_png_gray(libpng_write("rgba.png", 2, 1, PNG_FORMAT_RGBA, rgba));
  EXPECT_EQ(c.alpha[0], 1.0f);
  EXPECT_EQ(c.alpha[1], 77 / 255.0f);
  EXPECT_NEAR(c.value[0], 1.0f, 1e-6);
  EXPECT_NEAR(c.value[1], 90 / 255.0f, 2.01f / 255);
}

TEST_F(PngTest, MemoryDecodeMatchesFile) {
  const uint8_t px[6] = {1, 2, 3, 250, 251, 252};
  write_png_gray(path("m.png"), 3, 2, px);
  std::vector<uint8_t> bytes = file_contents(path("m.png"));
  GrayImage a = decode_png_gray(bytes.data(), bytes.size(), "upload");
  GrayImage b = read_png_gray(path("m.png"));
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.alpha, b.alpha);
}

TEST_F(PngTest, BrokenFilesThrowNamingTheFile) {
  std::string text = path("not.png");
  std::ofstream(text) << "this is not a PNG file, just text";
  auto expect_named = [](const std::string& p) {
    try {
      read_png_gray(p);
      ADD_FAILURE() << p << " was read";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(p + ": ", 0), 0u) << e.what();
    }
  };
  expect_named(text);
  expect_named(path("absent.png"));
  std::ofstream(path("empty.png")).close();
  expect_named(path("empty.png"));

  std::vector<uint8_t> px(64 * 64);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 31 % 251);
  write_png_gray(path("full.png"), 64, 64, px.data());
  std::vector<uint8_t> full = file_contents(path("full.png"));
  for (size_t cut : {size_t{4}, size_t{20}, size_t{40}, full.size() / 2, full.size() - 13}) {
    std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_THROW(decode_png_gray(part.data(), part.size(), "cut"), Error) << cut;
  }
  EXPECT_THROW(decode_png_gray(nullptr, 0, "null"), Error);
}

TEST(Png, ChunkClaimingMoreThanTheFileIsRefusedCheaply) {
  // Found by fuzz/png_fuzz.cpp: libpng allocates and zeroes what a tEXt chunk claims
  // (up to 2 GiB) before it notices the bytes are missing.
  std::vector<uint8_t> bytes = testing::png_claiming(10, 10);
  const std::vector<uint8_t> text = {0x7f, 0xff, 0xff, 0xff, 't', 'E', 'X', 't', 'a', 'b', 'c', 'd'};
  bytes.insert(bytes.begin() + 33, text.begin(), text.end());  // after the signature and IHDR
  try {
    decode_png_gray(bytes.data(), bytes.size(), "text.png");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("chunk 'tEXt' at byte 33 claims 2147483647 bytes"), std::string::npos)
        << e.what();
  }
}

TEST(Png, OversizedImagesAreRefusedBeforeDecoding) {
  for (auto [w, h] : {std::pair{10000u, 10u}, std::pair{10u, 9000u}, std::pair{7000u, 7000u}}) {
    std::vector<uint8_t> bytes = testing::png_claiming(w, h);
    try {
      decode_png_gray(bytes.data(), bytes.size(), "huge.png");
      ADD_FAILURE() << w << "x" << h << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("larger than the limit"), std::string::npos) << e.what();
    }
  }
  // Just inside the limits the header passes and the missing pixel data is the error.
  std::vector<uint8_t> ok = testing::png_claiming(8192, 4000);
  try {
    decode_png_gray(ok.data(), ok.size(), "fits.png");
    ADD_FAILURE() << "decoded an image with no pixel data";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("larger than the limit"), std::string::npos) << e.what();
  }
}

TEST_F(PngTest, FailedWriteLeavesNothing) {
  const uint8_t px[1] = {0};
  EXPECT_THROW(write_png_gray(path("missing/dir/x.png"), 1, 1, px), Error);
  EXPECT_THROW(write_png_gray(path("zero.png"), 0, 1, px), Error);
  EXPECT_THROW(write_png_rgb(path("null.png"), 1, 1, nullptr), Error);
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace mnistcnn::io
