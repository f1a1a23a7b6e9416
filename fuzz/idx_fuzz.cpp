// libFuzzer target for the IDX reader (read_idx_images, read_idx_labels), raw and gzip.
// The first input byte picks the mode; the rest is the file body, either written as is
// or gzip-compressed here first so that fuzzed IDX content reaches past the inflater.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_util.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/idx.h"

namespace {

// gzip (not zlib) framing: windowBits 15 + 16.
std::vector<uint8_t> gzip(const uint8_t* data, size_t size, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<uint8_t> out(deflateBound(&zs, size) + 32);
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void read_both(const std::string& path) {
  try {
    mnistcnn::data::IdxImages im = mnistcnn::data::read_idx_images(path);
    FUZZ_CHECK(im.count >= 1 && im.rows >= 1 && im.cols >= 1);
    FUZZ_CHECK(im.rows <= mnistcnn::data::kIdxMaxSide && im.cols <= mnistcnn::data::kIdxMaxSide);
    FUZZ_CHECK(im.pixels.size() == static_cast<size_t>(im.count * im.rows * im.cols));
  } catch (const mnistcnn::Error&) {
  }
  try {
    std::vector<uint8_t> labels = mnistcnn::data::read_idx_labels(path, 10);
    FUZZ_CHECK(!labels.empty());
    for (uint8_t l : labels) FUZZ_CHECK(l < 10);
  } catch (const mnistcnn::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const uint8_t* body = data + 1;
  const size_t n = size - 1;
  if ((mode & 1) == 0) {
    read_both(file.write(body, n));
    return 0;
  }
  // Bit 0 set: gzip the body (level from bits 4-7); bit 1 set also cuts the stream short
  // by 1-16 bytes (bits 2-5), reaching the truncated-trailer and truncated-data paths.
  std::vector<uint8_t> gz = gzip(body, n, (mode >> 4) % 10);
  if (mode & 2) gz.resize(gz.size() - std::min(gz.size(), size_t{1} + ((mode >> 2) & 15)));
  read_both(file.write(gz.data(), gz.size()));
  return 0;
}
