// Digit preprocessing: turns any picture of a single digit (grey or colour, dark ink on
// light paper or light on dark, transparent canvases, any size) into a 28×28 image in
// MNIST's form: ink white on black, fitted to a 20-px box, centred by centre of mass.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace mnistcnn::data {

// A decoded picture: value 0 = black, 1 = white, row-major width×height; alpha in [0, 1]
// of the same size (all 1 when opaque; an empty alpha also means opaque).
struct GrayImage {
  int width = 0, height = 0;
  std::vector<float> value;
  std::vector<float> alpha;
};

// 28×28 row-major, ink = 1, background = 0, values in [0, 1]. blank: no digit found,
// pixels all zero.
struct DigitImage {
  std::array<float, 784> pixels{};
  bool blank = false;
};

// The MNIST pipeline: flatten alpha over the colour that contrasts with the ink; make the
// ink light on a zero background; crop to the ink; resize the longer side to 20 px (area
// averaging when shrinking, bilinear when enlarging); place in 28×28 with the centre of
// mass at (14, 14), pixel (r, c) sitting at position (r, c) as in MNIST; scale to max 1.
// Throws Error when the image's sizes are inconsistent.
DigitImage to_mnist_digit(const GrayImage& img);

// One MNIST image as stored in the IDX file (784 bytes, 0..255) → [0, 1]; blank when all
// bytes are zero.
DigitImage digit_from_mnist_bytes(const uint8_t* p784);
// Back to 784 bytes, rounding to nearest.
std::vector<uint8_t> to_bytes(const DigitImage& d);

}  // namespace mnistcnn::data
