// IDX reading. One path for raw and gzip (zlib reads raw files "transparently"); the raw
// size is checked against the header up front; a gzip body is allocated only as far as
// the compressed file could possibly expand.
#include "mnistcnn/data/idx.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "mnistcnn/core/error.h"

namespace mnistcnn::data {

namespace {

constexpr size_t kChunk = size_t{1} << 20;
constexpr size_t kDeflateMaxRatio = 1032;

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string hex8(uint32_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v & 0xffu);
  return buf;
}

std::string bytes_str(int64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

// gzerror prefixes the file's name ("<fd:3>: "), which the caller already gives.
std::string zlib_message(const char* msg) {
  std::string m = msg && *msg ? msg : "read error";
  auto colon = m.rfind(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

// An open IDX file, raw or gzip, read sequentially.
class IdxFile {
 public:
  explicit IdxFile(const std::string& path) : path_(path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) throw Error(path + ": no such file");
      throw Error(path + ": cannot access: " + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, expected an IDX file");
    if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file, expected an IDX file");
    size_ = static_cast<int64_t>(st.st_size);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    unsigned char magic[2] = {0, 0};
    gzip_ = ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    gz_ = gzdopen(fd, "rb");
    if (!gz_) {
      ::close(fd);
      throw Error(path + ": cannot open: out of memory in zlib");
    }
    gzbuffer(gz_, 256 * 1024);
  }
  ~IdxFile() { gzclose(gz_); }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  bool gzip() const { return gzip_; }
  int64_t file_size() const { return size_; }
  const std::string& path() const { return path_; }

  // Reads up to n bytes; fewer only at the end of the (decompressed) stream.
  size_t read(uint8_t* dst, size_t n) {
    size_t total = 0;
    while (total < n) {
      unsigned want = static_cast<unsigned>(std::min(n - total, kChunk));
      int got = gzread(gz_, dst + total, want);
      int errnum = Z_OK;
      const char* msg = gzerror(gz_, &errnum);
      if (got < 0 || errnum != Z_OK) {
        std::string what = errnum == Z_BUF_ERROR ? "truncated gzip stream" : "corrupt gzip stream";
        throw Error(path_ + ": " + what + " (zlib: " + zlib_message(msg) + ")");
      }
      if (got == 0) break;
      total += static_cast<size_t>(got);
    }
    return total;
  }

  uint32_t read_be32(const char* field, int64_t header_bytes) {
    uint8_t b[4];
    size_t got = read(b, 4);
    if (got != 4)
      throw Error(path_ + ": truncated header: expected " + bytes_str(header_bytes) + " of header, the " +
                  (gzip_ ? "decompressed stream" : "file") + " ends inside the " + field);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }

 private:
  std::string path_;
  gzFile gz_ = nullptr;
  bool gzip_ = false;
  int64_t size_ = 0;
};

// "60000 images of 28x28", "10000 labels".
std::string describe(const std::vector<int64_t>& dims) {
  std::string s = std::to_string(dims[0]) + (dims.size() == 1 ? " labels" : " images of ");
  for (size_t i = 1; i < dims.size(); ++i) {
    if (i > 1) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

// Bytes in the body; at most 1e8 * 4096 * 4096 < 2^63 once the header is checked.
int64_t body_bytes(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

// Checks magic and dimensions; returns the dims. `what` names the expected content.
std::vector<int64_t> read_header(IdxFile& f, int rank, const char* what) {
  const uint32_t expected = 0x00000800u | static_cast<uint32_t>(rank);
  const int64_t header_bytes = 4 + 4 * int64_t{rank};
  const std::string& p = f.path();
  uint32_t magic = f.read_be32("magic number", header_bytes);
  if ((magic >> 16) != 0)
    throw Error(p + ": bad magic number: expected " + hex32(expected) + " (IDX " + what + "), found " + hex32(magic) +
                "; this is not an IDX file" + (f.gzip() ? " inside the gzip stream" : ""));
  uint32_t type = (magic >> 8) & 0xff, found_rank = magic & 0xff;
  if (type != 0x08)
    throw Error(p + ": bad magic number: expected " + hex32(expected) + " (IDX " + what + "), found " + hex32(magic) +
                ": element type " + hex8(type) + " is not 0x08 (unsigned byte)");
  if (found_rank != static_cast<uint32_t>(rank)) {
    std::string guess = found_rank == 3   ? "; this looks like an images file"
                        : found_rank == 1 ? "; this looks like a labels file"
                                          : "";
    throw Error(p + ": wrong rank in magic number " + hex32(magic) + ": expected " + std::to_string(rank) + " (" +
                what + "), found " + std::to_string(found_rank) + guess);
  }
  std::vector<int64_t> dims(static_cast<size_t>(rank));
  for (auto& d : dims) d = f.read_be32("dimensions", header_bytes);

  std::string shape = describe(dims);
  for (auto d : dims)
    if (d == 0) throw Error(p + ": zero dimension in header: " + shape + "; every dimension must be at least 1");
  if (dims[0] > kIdxMaxCount)
    throw Error(p + ": implausible count in header: " + shape + " (at most " + std::to_string(kIdxMaxCount) +
                "); the header is damaged");
  for (size_t i = 1; i < dims.size(); ++i)
    if (dims[i] > kIdxMaxSide)
      throw Error(p + ": implausible dimensions in header: " + shape + " (each side at most " +
                  std::to_string(kIdxMaxSide) + "); the header is damaged");

  if (!f.gzip()) {
    const int64_t want = header_bytes + body_bytes(dims);
    if (f.file_size() < want)
      throw Error(p + ": truncated: header says " + shape + " (" + bytes_str(want) + " with the header), file has " +
                  bytes_str(f.file_size()));
    if (f.file_size() > want)
      throw Error(p + ": trailing bytes: header says " + shape + " (" + bytes_str(want) +
                  " with the header), file has " + bytes_str(f.file_size()) + " (" +
                  std::to_string(f.file_size() - want) + " extra)");
  }
  return dims;
}

// Reads the body the dims describe, then checks the stream ends there.
std::vector<uint8_t> read_body(IdxFile& f, const std::vector<int64_t>& dims) {
  const int64_t body = body_bytes(dims);
  const std::string shape = describe(dims);
  std::vector<uint8_t> out;
  const auto n = static_cast<size_t>(body);
  if (!f.gzip()) {
    out.resize(n);  // the file size was checked against the header
    if (f.read(out.data(), n) != n) throw Error(f.path() + ": truncated: file shrank while being read");
  } else {
    // Deflate expands at most 1032:1, so a file of S bytes holds at most ~1032·S: the
    // whole body is allocated at once when the file can hold it (for MNIST, instead of
    // doubling, which peaked at 1.7x the body), and a header that claims more than the
    // file could hold only gets what the file could hold, then grows as data arrives.
    const auto could_hold = static_cast<size_t>(f.file_size()) * kDeflateMaxRatio + kChunk;
    size_t have = 0;
    while (have < n) {
      size_t next = std::min(n, have == 0 ? could_hold : std::max(have * 2, kChunk));
      out.resize(next);
      size_t got = f.read(out.data() + have, next - have);
      have += got;
      if (have < next)
        throw Error(f.path() + ": truncated: header says " + shape + " (" + bytes_str(body) +
                    " of data), the gzip stream ends after " + bytes_str(static_cast<int64_t>(have)));
    }
  }
  uint8_t extra;
  if (f.read(&extra, 1) != 0)
    throw Error(f.path() + ": trailing bytes: header says " + shape + " (" + bytes_str(body) +
                " of data), the decompressed stream is longer");
  return out;
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  IdxFile f(path);
  auto dims = read_header(f, 3, "images");
  IdxImages out;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  out.pixels = read_body(f, dims);
  return out;
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes) {
  if (num_classes < 1 || num_classes > 256)
    throw Error(path + ": num_classes must be in [1, 256] for byte labels, got " + std::to_string(num_classes));
  IdxFile f(path);
  auto dims = read_header(f, 1, "labels");
  auto labels = read_body(f, dims);
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= num_classes)
      throw Error(path + ": label out of range at index " + std::to_string(i) + ": value " + std::to_string(labels[i]) +
                  ", expected 0.." + std::to_string(num_classes - 1));
  return labels;
}

bool is_gzip_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  unsigned char m[2] = {0, 0};
  return f && std::fread(m, 1, 2, f.get()) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

}  // namespace mnistcnn::data
