// data export: a selection written as an image folder that reads back as the same data.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/mnist_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

int64_t count_pngs(const std::string& dir) {
  int64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.path().extension() == ".png";
  return n;
}

TEST(DataExport, WritesClassFoldersThatReadBack) {
  MNISTCNN_REQUIRE_MNIST();
  const std::string dir = testing::make_temp_dir("export");
  const auto r = run_cli("data export --data " + testing::mnist_dir() + " --classes 3,7 --split train --per-class 5 --out " +
                         dir + "/plain");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_pngs(dir + "/plain"), 10);
  EXPECT_EQ(count_pngs(dir + "/plain/3"), 5);
  EXPECT_EQ(count_pngs(dir + "/plain/7"), 5);
  // Read back as an image folder: 2 classes named 3 and 7, 10 images.
  const auto inspect = run_cli("data inspect --data " + dir + "/plain --test-split 1 --json");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("\"7\""), std::string::npos) << inspect.out;
  // The same seed and augmentation give the same files; another augmentation other ones.
  ASSERT_EQ(run_cli("data export --data " + testing::mnist_dir() + " --limit 20 --augment strong --seed 3 --out " + dir + "/a").exit_code, 0);
  ASSERT_EQ(run_cli("data export --data " + testing::mnist_dir() + " --limit 20 --augment strong --seed 3 --out " + dir + "/b").exit_code, 0);
  ASSERT_EQ(count_pngs(dir + "/a"), 20);
  for (const auto& e : fs::recursive_directory_iterator(dir + "/a")) {
    if (e.path().extension() != ".png") continue;
    const auto other = dir + "/b/" + fs::relative(e.path(), dir + "/a").string();
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_EQ(fs::file_size(e.path()), fs::file_size(other)) << other;
  }
  const auto bad = run_cli("data export --data " + testing::mnist_dir() + " --augment wobbly --out " + dir + "/c");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("wobbly"), std::string::npos) << bad.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mnistcnn
