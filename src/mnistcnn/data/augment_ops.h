// The image operations behind augmentation, on one H×W float image (row-major, 0 is
// the background, values in [0, 1] for digits): an inverse-mapped bilinear warp (affine
// and elastic in one resampling), Simard's smoothed random displacement field, 3×3
// grey-level erosion/dilation, and a rectangle fill. Deterministic given their inputs;
// the random draws live in augment.cpp. Coordinates: x is the column, y the row, and
// pixel centres sit at integers.
#pragma once
#include <cstdint>

#include "mnistcnn/core/rng.h"

namespace mnistcnn::data {

// Output pixel (x, y) reads the source at (m00·x' + m01·y' + cx, m10·x' + m11·y' + cy),
// x' = x + dx − cx − tx, y' = y + dy − cy − ty: the inverse of "scale, shear, rotate
// about the centre (cx, cy), then shift by (tx, ty)".
struct AffineMap {
  float m00 = 1, m01 = 0, m10 = 0, m11 = 1;
  float cx = 0, cy = 0, tx = 0, ty = 0;
};

// rotate_deg counter-clockwise as displayed; shear_deg an x-shear (x += tan(shear)·y,
// torchvision's RandomAffine shear); scale > 0 zooms in; (tx, ty) in pixels, positive
// right and down. The centre is the middle of the image, ((W−1)/2, (H−1)/2).
AffineMap make_affine(int64_t H, int64_t W, float rotate_deg, float scale, float shear_deg, float tx, float ty);

// dst = src sampled through `map` after the displacement fields dx, dy (H×W each, or
// null for none), bilinear, zero outside the image. dst must not alias src.
void warp_bilinear(const float* src, float* dst, int64_t H, int64_t W, const AffineMap& map, const float* dx,
                   const float* dy);

// Simard et al. (2003): dx, dy = alpha · (U(−1, 1) noise smoothed by a Gaussian of std
// sigma, zero beyond the border, truncated at 4 sigma). tmp holds H×W floats.
void elastic_field(Rng& rng, int64_t H, int64_t W, float alpha, float sigma, float* dx, float* dy, float* tmp);

// Grey-level morphology with the 3×3 cross (a pixel and its 4 neighbours): the minimum
// (erode, thinner strokes) or the maximum (dilate, thicker strokes); outside the image
// counts as 0. The cross, not the square: a square erosion wipes out MNIST's 2-px
// strokes (seen in the augmentation grid), a square dilation nearly doubles them.
void erode3x3(const float* src, float* dst, int64_t H, int64_t W);
void dilate3x3(const float* src, float* dst, int64_t H, int64_t W);

// Sets rows [top, top+h) × columns [left, left+w) of img to `value`, or, when rng is
// non-null, to U(0, 1) noise drawn row by row.
void fill_rect(float* img, int64_t W, int64_t top, int64_t left, int64_t h, int64_t w, float value, Rng* rng);

}  // namespace mnistcnn::data
