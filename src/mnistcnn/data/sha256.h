// SHA-256 checksums (OpenSSL EVP) for verifying downloaded datasets and other files.
// Digests are lowercase hex, 64 characters.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mnistcnn::data {

// A digest fed in pieces (so large inputs need not be copied into one buffer).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void update(const uint8_t* p, size_t n);
  std::string hex();  // finishes the digest

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(const uint8_t* p, size_t n);

// Of the file's bytes exactly as stored.
std::string sha256_file_hex(const std::string& path);

// Of the file's content: gzip files (detected by their magic bytes) are decompressed
// first, so NAME and NAME.gz of the same data give the same digest.
std::string sha256_of_content(const std::string& path);

}  // namespace mnistcnn::data
