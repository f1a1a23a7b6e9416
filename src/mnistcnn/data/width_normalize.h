// Width normalisation (Ciresan, Meier & Schmidhuber 2012, "Multi-column deep neural
// networks"): each digit's ink is scaled along x so that its bounding box is a fixed
// number of pixels wide, its height left as it is, and centred. A narrow 1 and a wide 0
// then fill the same columns: another view of the same data, whose models err on other
// images than models of the raw or deskewed digits.
#pragma once
#include <cstdint>

namespace mnistcnn::data {

// The columns [first, last] holding ink: any pixel above a tenth of the image's brightest
// (faint anti-aliasing and noise do not widen the box). first > last for a blank image.
struct InkColumns {
  int64_t first = 0, last = -1;
};
InkColumns ink_columns(const float* img, int64_t H, int64_t W);

// dst = src with its ink columns scaled to `width` pixels about their centre, which moves
// to the image's centre (x = W/2 in pixel-edge coordinates). Each output column is the
// mean of the source over the interval it covers (area resampling, the same weights for
// every row): the ink box comes out exactly `width` wide, squeezing does not alias, and a
// stretched stroke keeps its grey levels. A blank image is copied. dst must not alias src;
// 1 <= width <= W; throws Error otherwise.
void normalize_width(const float* src, float* dst, int64_t H, int64_t W, int64_t width);

}  // namespace mnistcnn::data
