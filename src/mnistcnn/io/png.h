// PNG read/write through libpng's simplified API. Any PNG (grey, RGB, palette, 16-bit,
// with or without alpha) is read as grey + alpha; writes are atomic like every model file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "mnistcnn/data/digit_image.h"

namespace mnistcnn::io {

using data::GrayImage;

// Images beyond these are refused before any pixel memory is allocated.
constexpr int kMaxPngSide = 8192;
constexpr int64_t kMaxPngPixels = 40'000'000;

// Decodes a PNG held in memory; `name` (a path or an upload's name) starts error messages.
// Colour is converted to grey by libpng (sRGB luminance); 16-bit images without gamma
// information are taken as sRGB-encoded.
GrayImage decode_png_gray(const uint8_t* data, size_t size, const std::string& name);
GrayImage read_png_gray(const std::string& path);

// 8-bit grey (width×height bytes) or RGB (width×height×3 bytes, interleaved), row-major.
void write_png_gray(const std::string& path, int width, int height, const uint8_t* pixels);
void write_png_rgb(const std::string& path, int width, int height, const uint8_t* rgb);

}  // namespace mnistcnn::io
