// libFuzzer target for the PNG path of `predict`: decode_png_gray, then to_mnist_digit.
// PNG chunks carry CRCs that random mutations break; an input whose CRCs are wrong is
// decoded as is and again with its CRCs recomputed, so mutations reach libpng's decoders.
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "fuzz_util.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/io/png.h"

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Recomputes the CRC of every complete chunk; returns whether any changed.
bool fix_crcs(std::vector<uint8_t>& b) {
  bool changed = false;
  size_t pos = 8;  // after the signature
  while (pos + 12 <= b.size()) {
    const uint32_t len = be32(&b[pos]);
    if (len > b.size() - pos - 12) break;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, &b[pos + 4], len + 4));
    uint8_t* c = &b[pos + 8 + len];
    if (be32(c) != crc) {
      c[0] = static_cast<uint8_t>(crc >> 24), c[1] = static_cast<uint8_t>(crc >> 16);
      c[2] = static_cast<uint8_t>(crc >> 8), c[3] = static_cast<uint8_t>(crc);
      changed = true;
    }
    pos += 12 + len;
  }
  return changed;
}

void decode(const uint8_t* data, size_t size) {
  using namespace mnistcnn;
  data::GrayImage img;
  try {
    img = io::decode_png_gray(data, size, "fuzz.png");
  } catch (const Error&) {
    return;
  }
  FUZZ_CHECK(img.width >= 1 && img.height >= 1);
  FUZZ_CHECK(img.width <= io::kMaxPngSide && img.height <= io::kMaxPngSide);
  const size_t n = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
  FUZZ_CHECK(img.value.size() == n && (img.alpha.empty() || img.alpha.size() == n));
  data::DigitImage d;
  try {
    d = data::to_mnist_digit(img);
  } catch (const Error&) {
    fuzz::fail("to_mnist_digit threw on an image decode_png_gray returned");
  }
  float sum = 0;
  for (float p : d.pixels) {
    FUZZ_CHECK(std::isfinite(p) && p >= 0.0f && p <= 1.0f);
    sum += p;
  }
  FUZZ_CHECK(d.blank ? sum == 0.0f : sum > 0.0f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decode(data, size);
  std::vector<uint8_t> fixed(data, data + size);
  if (fix_crcs(fixed)) decode(fixed.data(), fixed.size());
  return 0;
}
