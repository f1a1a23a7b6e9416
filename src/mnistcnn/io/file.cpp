#include "mnistcnn/io/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "mnistcnn/core/error.h"

namespace mnistcnn::io {

namespace {

// Closes a descriptor and removes a temporary file unless released.
struct TempFile {
  std::string path;
  int fd = -1;
  bool keep = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!keep) ::unlink(path.c_str());
  }
};

// Reads errno before anything allocates: callers pass only existing strings.
[[noreturn]] void throw_errno(const std::string& path, const char* action,
                              const std::string& target = {}) {
  const int err = errno;
  throw Error(path + ": " + action + (target.empty() ? "" : " " + target) + ": " +
              std::strerror(err));
}

}  // namespace

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  static std::atomic<unsigned> counter{0};
  TempFile tmp;
  tmp.path = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (tmp.fd < 0) {
    int err = errno;
    tmp.keep = true;  // not ours to remove
    throw Error(path + ": cannot create " + tmp.path + ": " + std::strerror(err),
                "check that the directory exists and is writable");
  }
  const uint8_t* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t w = ::write(tmp.fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) throw_errno(path, "cannot write", tmp.path);
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (::fsync(tmp.fd) != 0) throw_errno(path, "cannot sync", tmp.path);
  int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) throw_errno(path, "cannot close", tmp.path);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    throw_errno(path, "cannot move into place from", tmp.path);
  tmp.keep = true;
  // Make the rename itself durable; best effort, the data is already in place.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<uint8_t> read_file_bytes(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno(path, "cannot open");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno(path, "cannot stat");
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, expected a file");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes)
    throw Error(path + ": " + std::to_string(st.st_size) + " bytes exceeds the limit of " +
                std::to_string(max_bytes) + " bytes");
  // Read to end of file rather than trusting st_size, so pipes and growing files work too.
  std::vector<uint8_t> out;
  out.reserve(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0);
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno(path, "cannot read");
    if (r == 0) break;
    if (out.size() + static_cast<size_t>(r) > max_bytes)
      throw Error(path + ": exceeds the limit of " + std::to_string(max_bytes) + " bytes");
    out.insert(out.end(), buf, buf + r);
  }
  return out;
}

}  // namespace mnistcnn::io
