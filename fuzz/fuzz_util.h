// Helpers shared by the libFuzzer targets: an in-memory file with a path (memfd) for the
// readers that only take paths, and a check that crashes loudly when an invariant fails.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzz {

// One memfd per process, rewritten for every input; its path is /proc/self/fd/N, so
// stat() sees a regular file of the right size and each open() starts at offset 0.
class MemFile {
 public:
  MemFile() {
    fd_ = ::memfd_create("mnistcnn-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& write(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      ssize_t w = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (w <= 0) std::abort();
      done += static_cast<size_t>(w);
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// A broken invariant is a finding: report it and crash so libFuzzer saves the input.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
  std::abort();
}
#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) ::fuzz::fail(#cond); \
  } while (0)

}  // namespace fuzz
