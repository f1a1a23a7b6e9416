// PNG through libpng's simplified API (png_image_*): it handles palette, 16-bit, colour
// and alpha conversions for us and reports errors as text instead of longjmp-ing into us.
#include "mnistcnn/io/png.h"

#include <png.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/file.h"

namespace mnistcnn::io {

namespace {

// Frees libpng's state however we leave.
struct PngImage {
  png_image image{};
  PngImage() { image.version = PNG_IMAGE_VERSION; }
  ~PngImage() { png_image_free(&image); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
  std::string message() const { return image.message[0] ? image.message : "unknown libpng error"; }
};

void write_png(const std::string& path, int width, int height, const uint8_t* pixels,
               png_uint_32 format, int channels) {
  if (width <= 0 || height <= 0 || int64_t{width} * channels > INT32_MAX || pixels == nullptr)
    throw Error(path + ": cannot write a " + std::to_string(width) + "x" + std::to_string(height) +
                " PNG" + (pixels ? "" : " from null pixels"));
  PngImage png;
  png.image.width = static_cast<png_uint_32>(width);
  png.image.height = static_cast<png_uint_32>(height);
  png.image.format = format;
  png_int_32 stride = width * channels;
  png_alloc_size_t size = 0;
  // First call measures, second encodes.
  if (!png_image_write_to_memory(&png.image, nullptr, &size, 0, pixels, stride, nullptr))
    throw Error(path + ": cannot encode PNG: " + png.message());
  std::vector<uint8_t> bytes(size);
  if (!png_image_write_to_memory(&png.image, bytes.data(), &size, 0, pixels, stride, nullptr))
    throw Error(path + ": cannot encode PNG: " + png.message());
  bytes.resize(size);
  write_file_atomic(path, bytes);
}

// Refuses a chunk whose length runs past the end of the data before libpng sees it: libpng
// 1.6.39 allocates and zeroes a text or sPLT chunk's claimed length (up to 2 GiB) before
// finding that the bytes are not there, so a 45-byte file would cost 2 GiB.
void check_chunk_lengths(const uint8_t* data, size_t size, const std::string& name) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return;  // libpng says what it is
  size_t pos = 8;
  while (size - pos >= 8) {
    const uint32_t len = (uint32_t{data[pos]} << 24) | (uint32_t{data[pos + 1]} << 16) |
                         (uint32_t{data[pos + 2]} << 8) | uint32_t{data[pos + 3]};
    std::string type(reinterpret_cast<const char*>(data + pos + 4), 4);
    for (char& c : type)
      if (!std::isalpha(static_cast<unsigned char>(c))) c = '?';
    if (len > size - pos - 8 || size - pos - 8 - len < 4)
      throw Error(name + ": not a readable PNG: chunk '" + type + "' at byte " + std::to_string(pos) +
                      " claims " + std::to_string(len) + " bytes, the file ends " +
                      std::to_string(size - pos - 8) + " bytes later",
                  "the file may be truncated or corrupt");
    if (type == "IEND") return;
    pos += size_t{12} + len;
  }
}

}  // namespace

GrayImage decode_png_gray(const uint8_t* data, size_t size, const std::string& name) {
  if (data != nullptr) check_chunk_lengths(data, size, name);
  PngImage png;
  if (data == nullptr || size == 0 || !png_image_begin_read_from_memory(&png.image, data, size))
    throw Error(name + ": not a readable PNG: " +
                (size == 0 ? std::string("empty") : png.message()));
  const png_uint_32 w = png.image.width, h = png.image.height;
  if (w > static_cast<png_uint_32>(kMaxPngSide) || h > static_cast<png_uint_32>(kMaxPngSide) ||
      static_cast<int64_t>(w) * h > kMaxPngPixels)
    throw Error(name + ": image is " + std::to_string(w) + "x" + std::to_string(h) +
                ", larger than the limit of " + std::to_string(kMaxPngSide) + " px a side and " +
                std::to_string(kMaxPngPixels / 1'000'000) + " megapixels",
                "scale the image down first");
  png.image.format = PNG_FORMAT_GA;
  // 16-bit files without gAMA/sRGB are almost always sRGB-encoded in practice.
  png.image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
  std::vector<uint8_t> ga(PNG_IMAGE_SIZE(png.image));
  if (!png_image_finish_read(&png.image, nullptr, ga.data(), 0, nullptr))
    throw Error(name + ": cannot decode PNG: " + png.message(),
                "the file may be truncated or corrupt");

  GrayImage img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  size_t n = static_cast<size_t>(w) * h;
  img.value.resize(n);
  img.alpha.resize(n);
  for (size_t i = 0; i < n; ++i) {
    img.value[i] = ga[2 * i] / 255.0f;
    img.alpha[i] = ga[2 * i + 1] / 255.0f;
  }
  return img;
}

GrayImage read_png_gray(const std::string& path) {
  // A 40-megapixel RGBA image stays far below this even uncompressed.
  std::vector<uint8_t> bytes = read_file_bytes(path, size_t{1} << 30);
  return decode_png_gray(bytes.data(), bytes.size(), path);
}

void write_png_gray(const std::string& path, int width, int height, const uint8_t* pixels) {
  write_png(path, width, height, pixels, PNG_FORMAT_GRAY, 1);
}

void write_png_rgb(const std::string& path, int width, int height, const uint8_t* rgb) {
  write_png(path, width, height, rgb, PNG_FORMAT_RGB, 3);
}

}  // namespace mnistcnn::io
