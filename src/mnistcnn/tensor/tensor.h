// Tensor: owning, 64-byte aligned, contiguous float storage with a Shape. Resizing to a
// shape that fits the current capacity reuses the buffer, so per-batch buffers are
// allocated once and reused in the training loop.
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "mnistcnn/tensor/shape.h"

namespace mnistcnn {

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(const Shape& shape);  // zero-filled
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  int64_t dim(int i) const { return shape_[i]; }
  bool empty() const { return numel() == 0; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::span<float> span() { return {data_.get(), static_cast<size_t>(numel())}; }
  std::span<const float> span() const { return {data_.get(), static_cast<size_t>(numel())}; }
  float& operator[](int64_t i) { return data_.get()[i]; }
  float operator[](int64_t i) const { return data_.get()[i]; }

  // Changes the shape; reallocates only when the new size exceeds the capacity.
  // Contents are unspecified afterwards (use zero() if needed).
  void resize(const Shape& shape);
  // Same element count, new shape (e.g. N×C×H×W -> N×CHW); throws otherwise.
  void reshape(const Shape& shape);
  void zero();
  void fill(float v);

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data_;
  int64_t capacity_ = 0;
  Shape shape_;
};

}  // namespace mnistcnn
