// Hand-made PNG bytes for tests of hostile images.
#pragma once
#include <cstdint>
#include <vector>

namespace mnistcnn::testing {

// A PNG signature, an IHDR claiming w×h (8-bit grey) and the start of an IDAT: enough
// for libpng to report the size, with no pixel data behind it.
std::vector<uint8_t> png_claiming(uint32_t w, uint32_t h);

}  // namespace mnistcnn::testing
