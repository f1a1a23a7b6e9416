#include "mnistcnn/tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "mnistcnn/core/error.h"

namespace mnistcnn {

namespace {
constexpr size_t kAlign = 64;

float* allocate(int64_t n) {
  size_t bytes = (static_cast<size_t>(n) * sizeof(float) + kAlign - 1) / kAlign * kAlign;
  if (bytes == 0) bytes = kAlign;
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}
}  // namespace

void Tensor::Free::operator()(float* p) const { std::free(p); }

Tensor::Tensor(const Shape& shape) {
  resize(shape);
  zero();
}

Tensor::Tensor(const Tensor& other) : shape_() {
  resize(other.shape_);
  if (numel() > 0) std::memcpy(data(), other.data(), sizeof(float) * numel());
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) {
    resize(other.shape_);
    if (numel() > 0) std::memcpy(data(), other.data(), sizeof(float) * numel());
  }
  return *this;
}

void Tensor::resize(const Shape& shape) {
  int64_t n = shape.numel();
  if (n > capacity_) {
    data_.reset(allocate(n));
    capacity_ = n;
  }
  shape_ = shape;
}

void Tensor::reshape(const Shape& shape) {
  if (shape.numel() != numel())
    throw Error("Tensor::reshape: " + shape_.str() + " has " + std::to_string(numel()) +
                " elements, " + shape.str() + " needs " + std::to_string(shape.numel()));
  shape_ = shape;
}

void Tensor::zero() {
  if (numel() > 0) std::memset(data(), 0, sizeof(float) * numel());
}

void Tensor::fill(float v) {
  float* p = data();
  for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = v;
}

}  // namespace mnistcnn
