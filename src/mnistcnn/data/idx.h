// Reader for IDX files (the MNIST format: big-endian header, then raw unsigned bytes),
// raw or gzip. Every header field is checked against the file before anything sized by
// it is allocated, so a hostile or damaged file fails with a message, not a huge alloc.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mnistcnn::data {

// count images of rows x cols bytes, row-major, image after image.
struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols
};

// Limits on header fields; larger values are treated as a damaged header.
constexpr int64_t kIdxMaxSide = 4096;
constexpr int64_t kIdxMaxCount = 100'000'000;

// Magic 0x00000803. Throws mnistcnn::Error naming the path and the problem.
IdxImages read_idx_images(const std::string& path);

// Magic 0x00000801; every label must lie in [0, num_classes).
std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes = 10);

// True when the file starts with the gzip magic bytes 1f 8b (whatever its name).
bool is_gzip_file(const std::string& path);

}  // namespace mnistcnn::data
