// The PyTorch reference fixtures under tests/fixtures (written by
// scripts/make_torch_fixture.py) and tolerance checks whose failures name the tensor and
// its worst element.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mnistcnn/io/safetensors.h"

namespace mnistcnn::testing {

struct Tol {
  double atol, rtol;
};

// tests/fixtures/FILE, read once and kept.
const io::SafetensorsFile& torch_fixture(const std::string& file);
// A tensor of that fixture; throws Error naming it (and how to regenerate) when absent.
const Tensor& torch_tensor(const std::string& file, const std::string& name);
// Labels stored as floats, back to integers.
std::vector<int32_t> torch_labels(const Tensor& y);

// Every element within atol + rtol·|expected|; on failure names the tensor and its worst
// element (index, both values, absolute difference). Records the largest differences as
// test properties (visible with --gtest_output=xml).
void expect_close(const std::string& name, std::span<const float> got, const Tensor& want, Tol tol);
void expect_close(const std::string& name, const Tensor& got, const Tensor& want, Tol tol);

// Gradients: relative, with an absolute floor scaled to the tensor's largest entry so
// near-zero sums (rounding-order noise) do not fail.
Tol grad_tol(const Tensor& want);

}  // namespace mnistcnn::testing
