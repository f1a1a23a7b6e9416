// SHA-256 through OpenSSL's EVP interface; file digests stream in 1 MiB chunks, through
// zlib when the file is gzip.
#include "mnistcnn/data/sha256.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "mnistcnn/core/error.h"

namespace mnistcnn::data {

struct Sha256::Impl {
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx{EVP_MD_CTX_new()};
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) != 1)
    throw Error("sha256: OpenSSL could not initialise a SHA-256 digest");
}

Sha256::~Sha256() = default;

void Sha256::update(const uint8_t* p, size_t n) {
  if (n > 0 && EVP_DigestUpdate(impl_->ctx.get(), p, n) != 1) throw Error("sha256: OpenSSL digest update failed");
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), md, &len) != 1) throw Error("sha256: OpenSSL digest final failed");
  static const char* digits = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  return out;
}

namespace {

constexpr size_t kChunk = size_t{1} << 20;

// A directory opens fine on Linux and only fails on read, with a vaguer message.
void check_readable_file(const std::string& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) throw Error(path + ": no such file");
  if (std::filesystem::is_directory(st)) throw Error(path + ": is a directory, expected a file");
}

// gzerror prefixes the path, which the caller already gives.
std::string zlib_message(const char* msg) {
  std::string m = msg && *msg ? msg : "read error";
  auto colon = m.rfind(": ");
  return colon == std::string::npos ? m : m.substr(colon + 2);
}

}  // namespace

std::string sha256_hex(const uint8_t* p, size_t n) {
  Sha256 h;
  h.update(p, n);
  return h.hex();
}

std::string sha256_file_hex(const std::string& path) {
  check_readable_file(path);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  Sha256 h;
  std::vector<uint8_t> buf(kChunk);
  size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) h.update(buf.data(), got);
  if (std::ferror(f.get())) throw Error(path + ": read error while hashing");
  return h.hex();
}

std::string sha256_of_content(const std::string& path) {
  check_readable_file(path);
  // gzopen reads a file without the gzip magic as it is ("transparent" mode).
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), &gzclose);
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  Sha256 h;
  std::vector<uint8_t> buf(kChunk);
  for (;;) {
    int got = gzread(f.get(), buf.data(), static_cast<unsigned>(buf.size()));
    int errnum = Z_OK;
    const char* msg = gzerror(f.get(), &errnum);
    if (got < 0 || errnum != Z_OK)
      throw Error(path + ": corrupt or truncated gzip stream (zlib: " + zlib_message(msg) + ")");
    if (got == 0) break;
    h.update(buf.data(), static_cast<size_t>(got));
  }
  return h.hex();
}

}  // namespace mnistcnn::data
