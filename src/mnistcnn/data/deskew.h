// Deskewing (LeCun et al. 1998; Keysers' and others' MNIST preprocessing): the shear
// along x that makes an image's intensity-weighted second moment cov(x, y) zero, so a
// slanted digit stands upright about its centre of mass. A different view of the same
// data: models trained on it err on other images than models trained on the raw digits.
#pragma once
#include <cstdint>

namespace mnistcnn::data {

// cov(x, y) / var(y) of the pixel intensities (x the column, y the row): the column
// moves by this much per row down. 0 for a blank image or one whose ink is in one row.
float skew(const float* img, int64_t H, int64_t W);

// dst = src sheared about its centroid row so that its skew is (nearly) 0: output pixel
// (x, y) reads src at (x + skew·(y − ȳ), y), bilinear, zero outside. dst must not alias
// src. A blank or upright image is copied unchanged.
void deskew(const float* src, float* dst, int64_t H, int64_t W);

}  // namespace mnistcnn::data
