// Fashion-MNIST fetching without network: its pinned hashes against the real files, the
// fallback to files Debian's dataset-fashion-mnist installed (a stand-in directory), and
// to `apt-get download` + `dpkg-deb -x` through a stand-in apt-get that builds a real
// .deb. The real apt-get test needs MNISTCNN_NETWORK_TESTS=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/dataset.h"
#include "mnistcnn/data/fetch.h"
#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace fs = std::filesystem;
using namespace mnistcnn::data;

namespace {

const char* kNames[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                        "t10k-labels-idx1-ubyte"};

class FashionFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    MNISTCNN_REQUIRE_FASHION();
    root_ = mnistcnn::testing::make_temp_dir("fashion");
    src_ = fs::canonical(mnistcnn::testing::fashion_dir());
    dir_ = root_ / "data" / "fashion-mnist";
    options_.allow_npm_fallback = false;
    options_.mirrors = {"file://" + (root_ / "no-such-mirror").string() + "/"};
    options_.system_dir = (root_ / "not-installed").string();
    options_.apt_get_program = (root_ / "no-apt-get").string();
    options_.log = [this](const std::string& line) { log_ += line + "\n"; };
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }
  std::vector<std::string> files_in(const fs::path& d) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(d)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<std::string> all_gz() const {
    std::vector<std::string> out;
    for (auto n : kNames) out.push_back(std::string(n) + ".gz");
    std::sort(out.begin(), out.end());
    return out;
  }
  void expect_all_verified() const {
    for (const auto& c : verify_dataset("fashion-mnist", dir_.string()))
      EXPECT_TRUE(c.ok()) << c.name << ": " << c.problem;
  }
  // A stand-in apt-get: checks its arguments, then builds a real .deb (uncompressed, so it
  // is quick) holding the real files named, where Debian puts them; a pair {from, as}
  // packs a file under another name.
  void stand_in_apt_get(const std::vector<std::pair<std::string, std::string>>& files) {
    const fs::path apt = root_ / "apt-get";
    std::ofstream f(apt);
    f << "#!/bin/sh\nset -e\n"
      << "[ \"$1\" = download ] && [ \"$2\" = dataset-fashion-mnist ] || { echo \"bad args: $*\" >&2; exit 3; }\n"
      << "mkdir -p pkg/DEBIAN pkg/usr/share/datasets/fashion-mnist\n"
      << "printf 'Package: dataset-fashion-mnist\\nVersion: 1\\nArchitecture: all\\nMaintainer: t <t@example.org>\\n"
         "Description: stand-in\\n' > pkg/DEBIAN/control\n";
    for (const auto& [from, as] : files)
      f << "cp '" << (src_ / from).string() << "' pkg/usr/share/datasets/fashion-mnist/" << as << "\n";
    f << "dpkg-deb --root-owner-group -Znone --build pkg dataset-fashion-mnist_1_all.deb >/dev/null\n"
      << "rm -rf pkg\n";
    f.close();
    fs::permissions(apt, fs::perms::owner_all);
    options_.apt_get_program = apt.string();
  }

  fs::path root_, src_, dir_;
  FetchOptions options_;
  std::string log_;
};

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const mnistcnn::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "did not throw mnistcnn::Error";
  return "";
}

}  // namespace

TEST(FashionTable, HashesClassNamesAndIdentification) {
  const KnownDataset& ds = find_known_dataset("fashion-mnist");
  ASSERT_EQ(ds.files.size(), 4u);
  EXPECT_EQ(ds.deb_package, "dataset-fashion-mnist");
  EXPECT_EQ(ds.system_dir, "/usr/share/datasets/fashion-mnist");
  ASSERT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names.front(), "T-shirt/top");
  EXPECT_EQ(ds.class_names.back(), "Ankle boot");
  EXPECT_TRUE(find_known_dataset("mnist").class_names.empty());
  EXPECT_EQ(identify_by_labels({1, 2, 3}), nullptr);
  MNISTCNN_REQUIRE_FASHION();
  // The real files (as Debian ships them, re-gzipped) verify against the pinned raw hashes.
  for (const auto& c : verify_dataset("fashion-mnist", mnistcnn::testing::fashion_dir()))
    EXPECT_TRUE(c.ok()) << c.name << ": " << c.problem;
  const Dataset test = load_idx_split(mnistcnn::testing::fashion_dir(), Split::Test);
  const Dataset train = load_idx_split(mnistcnn::testing::fashion_dir(), Split::Train);
  ASSERT_NE(identify_by_labels(test.labels), nullptr);
  EXPECT_EQ(identify_by_labels(test.labels)->name, "fashion-mnist");
  EXPECT_EQ(identify_by_labels(train.labels)->name, "fashion-mnist");
  auto changed = test.labels;
  changed[17] = static_cast<uint8_t>((changed[17] + 1) % 10);
  EXPECT_EQ(identify_by_labels(changed), nullptr);
  if (mnistcnn::testing::have_mnist()) {
    const KnownDataset* mnist = identify_by_labels(load_idx_split(mnistcnn::testing::mnist_dir(), Split::Test).labels);
    ASSERT_NE(mnist, nullptr);
    EXPECT_EQ(mnist->name, "mnist");
  }
}

TEST_F(FashionFetch, FromTheFilesTheDebianPackageInstalled) {
  // A stand-in for /usr/share/datasets/fashion-mnist: links to the real files.
  const fs::path sys = root_ / "usr-share";
  fs::create_directories(sys);
  for (auto n : kNames) fs::create_symlink(src_ / (std::string(n) + ".gz"), sys / (std::string(n) + ".gz"));
  options_.system_dir = sys.string();
  fetch_dataset("fashion-mnist", dir_.string(), options_);
  EXPECT_EQ(files_in(dir_), all_gz());  // copied under the canonical names, nothing temporary left
  for (auto n : kNames) EXPECT_FALSE(fs::is_symlink(dir_ / (std::string(n) + ".gz"))) << n;
  EXPECT_EQ(files_in(sys), all_gz());  // the package's files stay where they are
  expect_all_verified();
  EXPECT_NE(log_.find("from " + sys.string()), std::string::npos) << log_;
  EXPECT_EQ(load_idx_split(dir_.string(), Split::Test).size(), 10000);
}

TEST_F(FashionFetch, DamagedInstalledFileFallsThroughToAptGet) {
  const fs::path sys = root_ / "usr-share";
  fs::create_directories(sys);
  for (auto n : kNames) fs::create_symlink(src_ / (std::string(n) + ".gz"), sys / (std::string(n) + ".gz"));
  fs::remove(sys / "t10k-labels-idx1-ubyte.gz");
  std::ofstream(sys / "t10k-labels-idx1-ubyte.gz") << "damaged";
  options_.system_dir = sys.string();
  stand_in_apt_get({{"t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}});
  fetch_dataset("fashion-mnist", dir_.string(), options_);
  EXPECT_EQ(files_in(dir_), all_gz());
  expect_all_verified();
  EXPECT_NE(log_.find("fails verification"), std::string::npos) << log_;
  EXPECT_NE(log_.find("saved " + (dir_ / "t10k-labels-idx1-ubyte.gz").string() + " (from Debian package"),
            std::string::npos)
      << log_;
}

TEST_F(FashionFetch, AptGetDownloadAndDpkgDeb) {
  if (std::system("command -v dpkg-deb >/dev/null") != 0) GTEST_SKIP() << "dpkg-deb not available";
  // The images are there already; only the labels come from the package.
  fs::create_directories(dir_);
  fs::copy_file(src_ / "train-images-idx3-ubyte.gz", dir_ / "train-images-idx3-ubyte.gz");
  fs::copy_file(src_ / "t10k-images-idx3-ubyte.gz", dir_ / "t10k-images-idx3-ubyte.gz");
  stand_in_apt_get({{"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"},
                    {"t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}});
  fetch_dataset("fashion-mnist", dir_.string(), options_);
  EXPECT_EQ(files_in(dir_), all_gz());  // the temporary .deb-XXXXXX directory is gone
  expect_all_verified();
  EXPECT_NE(log_.find("unpacking dataset-fashion-mnist_1_all.deb"), std::string::npos) << log_;

  // A package that lacks a file, or carries a wrong one: named, nothing unverified kept.
  fs::remove(dir_ / "t10k-labels-idx1-ubyte.gz");
  fs::remove(dir_ / "train-labels-idx1-ubyte.gz");
  stand_in_apt_get({{"t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"}});
  std::string msg = error_of([&] { fetch_dataset("fashion-mnist", dir_.string(), options_); });
  EXPECT_NE(msg.find("train-labels-idx1-ubyte.gz fails verification: sha256 mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("t10k-labels-idx1-ubyte is not there"), std::string::npos) << msg;
  EXPECT_EQ(files_in(dir_), (std::vector<std::string>{"t10k-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"}));
}

TEST_F(FashionFetch, AptGetFailureAndAbsence) {
  std::string msg = error_of([&] { fetch_dataset("fashion-mnist", dir_.string(), options_); });
  EXPECT_NE(msg.find("not-installed"), std::string::npos) << msg;  // the installed files were looked for
  EXPECT_NE(msg.find("no-apt-get` not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist"), std::string::npos) << msg;

  const fs::path apt = root_ / "apt-get";
  std::ofstream(apt) << "#!/bin/sh\necho 'E: Unable to locate package dataset-fashion-mnist' >&2\nexit 100\n";
  fs::permissions(apt, fs::perms::owner_all);
  options_.apt_get_program = apt.string();
  msg = error_of([&] { fetch_dataset("fashion-mnist", dir_.string(), options_); });
  EXPECT_NE(msg.find("exit status 100"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Unable to locate package"), std::string::npos) << msg;
  EXPECT_NE(msg.find("apt-get update"), std::string::npos) << msg;
  EXPECT_TRUE(files_in(dir_).empty());

  options_.allow_deb_fallback = false;  // --no-deb: only the mirror is tried
  msg = error_of([&] { fetch_dataset("fashion-mnist", dir_.string(), options_); });
  EXPECT_EQ(msg.find("apt-get"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no-such-mirror/t10k-labels-idx1-ubyte.gz"), std::string::npos) << msg;
}

TEST_F(FashionFetch, RealAptGet) {
  const char* on = std::getenv("MNISTCNN_NETWORK_TESTS");
  if (!on || std::string(on) != "1") GTEST_SKIP() << "set MNISTCNN_NETWORK_TESTS=1 to fetch the Debian package";
  options_.apt_get_program = "apt-get";
  fetch_dataset("fashion-mnist", dir_.string(), options_);
  expect_all_verified();
  EXPECT_EQ(load_idx_split(dir_.string(), Split::Train).size(), 60000);
}
