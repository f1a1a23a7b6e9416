// Shape: up to four dimensions, NCHW for images (N batch, C channels, H, W), N×F for
// dense activations. Small and copied by value.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace mnistcnn {

class Shape {
 public:
  static constexpr int kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t numel() const;
  // The shape with the first (batch) dimension replaced.
  Shape with_batch(int64_t n) const;
  std::string str() const;  // "[32, 1, 28, 28]"

  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace mnistcnn
