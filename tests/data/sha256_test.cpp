// SHA-256 against the FIPS 180-2 vectors, and file/content digests (gzip decompressed
// for content) against the published MNIST hashes.
#include "mnistcnn/data/sha256.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "mnistcnn/core/error.h"

namespace fs = std::filesystem;
using namespace mnistcnn::data;

namespace {

std::string sha(const std::string& s) { return sha256_hex(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

class Sha256Files : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "mnistcnn-sha-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

}  // namespace

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_F(Sha256Files, FileDigestIsOfBytesContentDigestOfDecompressed) {
  std::string raw = (dir_ / "abc").string(), gz = (dir_ / "abc.gz").string();
  std::ofstream(raw, std::ios::binary) << "abc";
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, "abc", 3);
  gzclose(f);
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_EQ(sha256_file_hex(raw), abc);
  EXPECT_EQ(sha256_of_content(raw), abc);
  EXPECT_EQ(sha256_of_content(gz), abc);
  EXPECT_NE(sha256_file_hex(gz), abc);
}

TEST_F(Sha256Files, ErrorsNameThePath) {
  std::string missing = (dir_ / "missing").string();
  for (const auto& p : {missing, dir_.string()}) {
    EXPECT_THROW(sha256_file_hex(p), mnistcnn::Error);
    try {
      sha256_of_content(p);
      ADD_FAILURE() << "no error for " << p;
    } catch (const mnistcnn::Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(p, 0), 0u) << e.what();
    }
  }
  std::string bad = (dir_ / "bad.gz").string();
  std::ofstream(bad, std::ios::binary) << std::string("\x1f\x8b\x08\x00garbage-not-deflate", 22);
  EXPECT_THROW(sha256_of_content(bad), mnistcnn::Error);
}

TEST(Sha256RealMnist, ContentMatchesPublishedHashes) {
  const fs::path dir = fs::path(MNISTCNN_SOURCE_DIR) / ".." / "shared" / "data" / "mnist";
  if (!fs::exists(dir / "t10k-labels-idx1-ubyte.gz")) GTEST_SKIP() << "real MNIST not found at " << dir;
  const std::pair<const char*, const char*> files[] = {
      {"train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
      {"train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
      {"t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
      {"t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}};
  for (const auto& [name, hash] : files) EXPECT_EQ(sha256_of_content((dir / name).string()), hash) << name;
}
