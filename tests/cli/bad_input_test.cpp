// The catalogue of bad input in docs/RELIABILITY.md, each row driven through the real
// program: a message naming the file or flag and the problem on stderr, a non-zero exit,
// nothing on stdout, no output file left behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "mnistcnn/io/png.h"
#include "mnistcnn/io/safetensors.h"
#include "support/mnist_files.h"
#include "support/png_files.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> be32(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> out;
  for (uint32_t v : words)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  return out;
}

// IDX files: images (magic 0x803) with n images of r×c, labels (0x801) with n labels.
std::vector<uint8_t> idx_images(uint32_t n, uint32_t r, uint32_t c, size_t body) {
  auto out = be32({0x803, n, r, c});
  out.resize(out.size() + body, 7);
  return out;
}
std::vector<uint8_t> idx_labels(uint32_t n, uint8_t value = 3) {
  auto out = be32({0x801, n});
  out.resize(out.size() + n, value);
  return out;
}

struct Expect {
  int exit_code;
  std::vector<std::string> in_stderr;
};

void expect_refused(const std::string& args, const Expect& e) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, e.exit_code) << args << "\n" << r.err;
  EXPECT_TRUE(r.out.empty()) << args << "\nstdout: " << r.out;
  for (const auto& s : e.in_stderr) EXPECT_NE(r.err.find(s), std::string::npos) << args << "\nstderr: " << r.err;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("bad"); }
  void TearDown() override { fs::remove_all(dir_); }
  // A tiny but valid model to evaluate with.
  std::string model() {
    const std::string path = dir_ + "/ok.safetensors";
    if (!fs::exists(path)) {
      Tensor w({10, 784}), b({10});
      io::write_safetensors(path, {{"1.weight", &w}, {"1.bias", &b}}, {{"arch", "flatten dense(10)"}});
    }
    return path;
  }
  // A test directory whose image/label files are given.
  std::string idx_dir(const std::string& name, const std::vector<uint8_t>& images, const std::vector<uint8_t>& labels) {
    const std::string d = dir_ + "/" + name;
    fs::create_directories(d);
    write_bytes(d + "/t10k-images-idx3-ubyte", images);
    write_bytes(d + "/t10k-labels-idx1-ubyte", labels);
    return d;
  }
  std::string dir_;
};

TEST_F(BadInput, IdxFiles) {
  const std::string m = model();
  const size_t good = 2 * 28 * 28;
  struct Row {
    std::string name;
    std::vector<uint8_t> images, labels;
    std::string problem;
  };
  const std::vector<Row> rows = {
      {"magic", be32({0x1234, 2, 28, 28}), idx_labels(2), "magic"},
      {"rank", be32({0x802, 2, 28}), idx_labels(2), "rank"},
      {"zero", idx_images(0, 28, 28, 0), idx_labels(0), "zero"},
      {"huge", idx_images(0x80000000u, 28, 28, good), idx_labels(2), "implausible"},
      {"truncated", idx_images(2, 28, 28, good - 100), idx_labels(2), "truncated"},
      {"trailing", idx_images(2, 28, 28, good + 5), idx_labels(2), "trailing"},
      {"label", idx_images(2, 28, 28, good), idx_labels(2, 12), "label"},
      {"count", idx_images(2, 28, 28, good), idx_labels(3), "3"},
  };
  for (const auto& row : rows) {
    const std::string d = idx_dir(row.name, row.images, row.labels);
    expect_refused("eval --model " + m + " --data " + d, {1, {d + "/t10k-", row.problem}});
  }
  // Corrupt gzip: a valid header and then garbage.
  const std::string gz = dir_ + "/gz";
  fs::create_directories(gz);
  std::vector<uint8_t> bad_gz = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  write_bytes(gz + "/t10k-images-idx3-ubyte.gz", bad_gz);
  write_bytes(gz + "/t10k-labels-idx1-ubyte", idx_labels(2));
  expect_refused("eval --model " + m + " --data " + gz, {1, {gz + "/t10k-images-idx3-ubyte.gz"}});
  // A directory in place of the file; a missing directory.
  const std::string isdir = dir_ + "/isdir";
  fs::create_directories(isdir + "/t10k-images-idx3-ubyte");
  write_bytes(isdir + "/t10k-labels-idx1-ubyte", idx_labels(2));
  expect_refused("eval --model " + m + " --data " + isdir, {1, {isdir + "/t10k-images-idx3-ubyte", "directory"}});
  expect_refused("eval --model " + m + " --data " + dir_ + "/nope", {1, {dir_ + "/nope", "data fetch"}});
}

TEST_F(BadInput, ModelFiles) {
  const std::string ok = model();
  const auto bytes = io::read_file_bytes(ok);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
  auto file_with_header = [&](const std::string& name, std::string h, size_t data_bytes) {
    while (h.size() % 8) h += ' ';
    std::vector<uint8_t> out(8);
    const uint64_t n = h.size();
    std::memcpy(out.data(), &n, 8);
    out.insert(out.end(), h.begin(), h.end());
    out.resize(out.size() + data_bytes);
    const std::string path = dir_ + "/" + name + ".safetensors";
    write_bytes(path, out);
    return path;
  };
  const size_t data = bytes.size() - 8 - header_len;
  struct Row {
    std::string path, problem;
  };
  std::vector<uint8_t> truncated(bytes.begin(), bytes.end() - 100);
  write_bytes(dir_ + "/truncated.safetensors", truncated);
  std::vector<uint8_t> past_end = bytes;
  const uint64_t huge = 1u << 30;
  std::memcpy(past_end.data(), &huge, 8);
  write_bytes(dir_ + "/past_end.safetensors", past_end);
  const std::vector<Row> rows = {
      {dir_ + "/truncated.safetensors", ""},
      {dir_ + "/past_end.safetensors", ""},
      {file_with_header("json", "{\"1.weight\": {", data), "JSON"},
      {file_with_header("overlap",
                        R"J({"__metadata__":{"arch":"flatten dense(10)"},"1.weight":{"dtype":"F32","shape":[10,784],"data_offsets":[0,31360]},"1.bias":{"dtype":"F32","shape":[10],"data_offsets":[31000,31040]}})J",
                        data),
       "1.bias"},
      {file_with_header("dtype",
                        R"J({"__metadata__":{"arch":"flatten dense(10)"},"1.weight":{"dtype":"BOOL","shape":[10,784],"data_offsets":[0,7840]},"1.bias":{"dtype":"F32","shape":[10],"data_offsets":[7840,7880]}})J",
                        7880),
       "BOOL"},
      {file_with_header("shape",
                        R"J({"__metadata__":{"arch":"flatten dense(10)"},"1.weight":{"dtype":"F32","shape":[10,783],"data_offsets":[0,31320]},"1.bias":{"dtype":"F32","shape":[10],"data_offsets":[31320,31360]}})J",
                        31360),
       "[10, 783]"},
      {file_with_header("kind", std::string(header).replace(header.find("flatten dense(10)"), 17, "flatten bogus(10)"), data),
       "unknown layer 'bogus'"},
  };
  for (const auto& row : rows) {
    expect_refused("info " + row.path, {1, {row.path, row.problem}});
    expect_refused("eval --model " + row.path + " --data " + dir_, {1, {row.path}});
  }
}

TEST_F(BadInput, ArchitectureSpecs) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"conv(32,3) wobble dense(10)", "unknown layer 'wobble'"},
      {"conv(3x,3) flatten dense(10)", "must be an integer"},
      {"conv(8,3) maxpool(2) maxpool(2) maxpool(2) maxpool(2) maxpool(2) flatten dense(10)", "does not fit"},
      {"conv(100000000,3) flatten dense(10)", "out of range"},
      {"dense(10", "not closed"},
  };
  for (const auto& [spec, problem] : rows) expect_refused("arch show '" + spec + "'", {1, {problem}});
  // train refuses before touching data or writing anything.
  expect_refused("train --arch 'conv(8,40) flatten dense(10)' --data " + dir_ + " --out " + dir_ + "/m.safetensors",
                 {1, {"conv(8,40)"}});
  EXPECT_FALSE(fs::exists(dir_ + "/m.safetensors"));
}

TEST_F(BadInput, PngImages) {
  const std::string m = model();
  write_bytes(dir_ + "/text.png", {'h', 'e', 'l', 'l', 'o'});
  std::vector<uint8_t> white(40 * 40, 255);
  io::write_png_gray(dir_ + "/white.png", 40, 40, white.data());
  auto full = io::read_file_bytes(dir_ + "/white.png");
  full.resize(full.size() / 2);
  write_bytes(dir_ + "/truncated.png", full);
  write_bytes(dir_ + "/huge.png", testing::png_claiming(100000, 100000));
  expect_refused("predict --model " + m + " " + dir_ + "/text.png", {1, {dir_ + "/text.png"}});
  expect_refused("predict --model " + m + " " + dir_ + "/truncated.png", {1, {dir_ + "/truncated.png"}});
  expect_refused("predict --model " + m + " " + dir_ + "/huge.png", {1, {dir_ + "/huge.png", "larger than the limit"}});
  expect_refused("predict --model " + m + " " + dir_ + "/missing.png", {1, {dir_ + "/missing.png"}});
  // A blank page is an answer, not an error.
  const auto r = run_cli("predict --model " + m + " " + dir_ + "/white.png");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("blank"), std::string::npos) << r.out;
}

TEST_F(BadInput, ImageFoldersAndDataSelection) {
  auto digit = [&](const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    std::vector<uint8_t> px(30 * 30, 0);
    for (int y = 5; y < 25; ++y) px[static_cast<size_t>(y * 30 + 14)] = 255;
    io::write_png_gray(path, 30, 30, px.data());
  };
  // Neither IDX files nor class folders.
  fs::create_directories(dir_ + "/empty");
  expect_refused("data inspect --data " + dir_ + "/empty", {1, {dir_ + "/empty", "neither an IDX directory"}});
  // A PNG that is not one; a blank one.
  const std::string bad = dir_ + "/bad";
  digit(bad + "/0/a.png");
  digit(bad + "/1/a.png");
  write_bytes(bad + "/1/b.png", {'h', 'e', 'l', 'l', 'o'});
  expect_refused("data inspect --data " + bad, {1, {bad + "/1/b.png", "not a readable PNG", "--skip-bad"}});
  fs::remove(bad + "/1/b.png");
  std::vector<uint8_t> white(20 * 20, 255);
  io::write_png_gray(bad + "/1/white.png", 20, 20, white.data());
  expect_refused("data inspect --data " + bad, {1, {bad + "/1/white.png", "blank"}});
  const auto skipped = run_cli("data inspect --data " + bad + " --skip-bad --test-split 1");
  EXPECT_EQ(skipped.exit_code, 0) << skipped.err;
  EXPECT_NE(skipped.err.find("skipped 1 unreadable or blank image:"), std::string::npos) << skipped.err;
  // A class folder without PNGs.
  fs::remove(bad + "/1/white.png");
  write_bytes(bad + "/1/a.png.txt", {'x'});
  fs::remove(bad + "/1/a.png");
  expect_refused("data inspect --data " + bad, {1, {bad + "/1", "without a .png file"}});
  // --classes: bad text is a usage error; classes the data lacks are named.
  expect_refused("data inspect --data " + bad + " --classes 3-1", {2, {"--classes", "backwards"}});
  fs::remove_all(bad + "/1");
  digit(bad + "/1/a.png");
  expect_refused("data inspect --data " + bad + " --classes 0,12", {1, {"--classes 0,12", "class 12 not in the data"}});
  // A folder name that is not printable UTF-8; too many classes, refused while listing.
  digit(bad + "/caf\xe9/a.png");
  expect_refused("data inspect --data " + bad, {1, {"caf", "not printable UTF-8"}});
  fs::remove_all(bad + "/caf\xe9");
  const std::string many = dir_ + "/many";
  for (int c = 0; c < 257; ++c) fs::create_directories(many + "/" + std::to_string(c));
  expect_refused("data inspect --data " + many, {1, {many, "more than 256 class folders"}});
  // A FIFO named like a PNG is never opened (reading it would block).
  ASSERT_EQ(::mkfifo((bad + "/1/pipe.png").c_str(), 0600), 0);
  const auto fifo = run_cli("data inspect --data " + bad + " --test-split 1");
  EXPECT_EQ(fifo.exit_code, 0) << fifo.err;
  EXPECT_NE(fifo.err.find("ignored 1 file in " + bad + ": not .png, or not a regular file"), std::string::npos) << fifo.err;
  // Image-folder options on IDX data.
  const std::string idx = idx_dir("idx", idx_images(2, 28, 28, 2 * 784), idx_labels(2));
  expect_refused("data inspect --data " + idx + " --test-split 0.5", {1, {"--test-split", "image folders"}});
}

TEST_F(BadInput, CommandLineFlags) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"train --epochs -1", "--epochs"},
      {"train --epochs 0", "--epochs"},
      {"train --batch-size 0", "--batch-size"},
      {"train --lr nan", "--lr"},
      {"train --lr -0.1", "--lr"},
      {"train --val-split 1.5", "--val-split"},
      {"train --threads -2", "--threads"},
      {"train --frobnicate", "frobnicate"},
      {"train --epochs", "--epochs"},
      {"eval --model", "--model"},
      {"predict --model m.safetensors --top-k 0 x.png", "--top-k"},
  };
  for (const auto& [args, flag] : rows) expect_refused(args, {2, {flag}});
}

TEST_F(BadInput, FailedTrainingLeavesNoModelFile) {
  MNISTCNN_REQUIRE_MNIST();
  // Training data that is broken: the run stops before a model file appears.
  const std::string d = idx_dir("broken", idx_images(2, 28, 28, 10), idx_labels(2));
  fs::copy_file(d + "/t10k-images-idx3-ubyte", d + "/train-images-idx3-ubyte");
  fs::copy_file(d + "/t10k-labels-idx1-ubyte", d + "/train-labels-idx1-ubyte");
  expect_refused("train --data " + d + " --out " + dir_ + "/out/m.safetensors", {1, {"truncated"}});
  EXPECT_FALSE(fs::exists(dir_ + "/out/m.safetensors"));
  for (const auto& e : fs::recursive_directory_iterator(dir_))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace mnistcnn
