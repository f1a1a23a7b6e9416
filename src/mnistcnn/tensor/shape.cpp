#include "mnistcnn/tensor/shape.h"

#include "mnistcnn/core/error.h"

namespace mnistcnn {

Shape::Shape(std::initializer_list<int64_t> dims) {
  if (dims.size() > kMaxRank) throw Error("Shape: rank " + std::to_string(dims.size()) + " exceeds 4");
  for (int64_t d : dims) {
    if (d < 0) throw Error("Shape: negative dimension " + std::to_string(d));
    dims_[rank_++] = d;
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i)
    if (__builtin_mul_overflow(n, dims_[i], &n))
      throw Error("Shape " + str() + " has more elements than a 64-bit count holds");
  return rank_ == 0 ? 0 : n;
}

Shape Shape::with_batch(int64_t n) const {
  Shape s = *this;
  if (s.rank_ > 0) s.dims_[0] = n;
  return s;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i)
    if (a.dims_[i] != b.dims_[i]) return false;
  return true;
}

}  // namespace mnistcnn
