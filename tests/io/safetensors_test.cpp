// safetensors: bit-exact round trips, hand-made files in every dtype we read, every kind
// of hostile header refused with a named error, random corruption never crashing, and
// atomic writes that leave nothing behind.
#include "mnistcnn/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include "mnistcnn/core/error.h"

namespace mnistcnn::io {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class SafetensorsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("mnistcnn_st_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path dir_;
};

Tensor filled(const Shape& s, float start) {
  Tensor t(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = start + 0.25f * static_cast<float>(i) - 3.0f;
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         (a.numel() == 0 || std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0);
}

// A file image from a header string and raw data bytes, the way a hand-written file looks.
std::vector<uint8_t> file_bytes(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  return out;
}

template <class T>
void append(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_safetensors(bytes, "hostile.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "(parsed without error)";
}

TEST_F(SafetensorsFileTest, RoundTripIsBitIdentical) {
  std::vector<std::pair<std::string, Tensor>> owned;
  owned.emplace_back("conv1.weight", filled({8, 1, 3, 3}, 1));
  owned.emplace_back("conv1.bias", filled({8}, 2));
  owned.emplace_back("odd", filled({3, 5, 7}, 3));
  owned.emplace_back("a.b.c", filled({1, 1, 1, 1}, 4));
  owned.emplace_back("empty", Tensor(Shape{4, 0}));
  owned.emplace_back("fc.weight", filled({10, 13}, 5));
  // Values a lossy path would change.
  Tensor& special = owned.emplace_back("special", Tensor(Shape{6})).second;
  special[0] = -0.0f;
  special[1] = std::numeric_limits<float>::infinity();
  special[2] = std::numeric_limits<float>::denorm_min();
  special[3] = std::bit_cast<float>(0x7fc12345u);  // NaN with a payload
  special[4] = std::numeric_limits<float>::max();
  special[5] = 1.0f / 3.0f;
  TensorRefs refs;
  for (auto& [n, t] : owned) refs.emplace_back(n, &t);
  std::map<std::string, std::string> meta{{"arch", "conv(8,3)->relu->linear(10)"},
                                          {"quote\"and\\slash", "line\nbreak"},
                                          {"unicode", "ünïcødé ✓"},
                                          {"empty", ""}};
  std::string path = (dir_ / "model.safetensors").string();
  write_safetensors(path, refs, meta);
  SafetensorsFile f = read_safetensors(path);

  ASSERT_EQ(f.tensors.size(), owned.size());
  for (size_t i = 0; i < owned.size(); ++i) {
    EXPECT_EQ(f.tensors[i].first, owned[i].first) << "written order is kept";
    EXPECT_TRUE(same_bits(f.tensors[i].second, owned[i].second)) << owned[i].first;
  }
  EXPECT_EQ(f.metadata, meta);
  ASSERT_NE(f.find("odd"), nullptr);
  EXPECT_EQ(f.find("odd")->shape(), (Shape{3, 5, 7}));
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_EQ(listing(), std::vector<std::string>{"model.safetensors"});
}

TEST(Safetensors, HeaderIsPaddedAndEmptyMetadataOmitted) {
  Tensor t = filled({3}, 0);
  std::vector<uint8_t> bytes = serialize_safetensors({{"x", &t}}, {});
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 12);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find("__metadata__"), std::string::npos);
  EXPECT_NE(header.find(R"("x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]})"), std::string::npos);
  SafetensorsFile f = parse_safetensors(bytes, "mem");
  EXPECT_TRUE(f.metadata.empty());
  EXPECT_TRUE(same_bits(f.tensors.at(0).second, t));

  SafetensorsFile none = parse_safetensors(serialize_safetensors({}, {}), "mem");
  EXPECT_TRUE(none.tensors.empty());
}

TEST(Safetensors, WriterRefusesWhatCannotBeRead) {
  Tensor t = filled({2}, 0), scalar;
  EXPECT_THROW(serialize_safetensors({{"a", &t}, {"a", &t}}, {}), Error);
  EXPECT_THROW(serialize_safetensors({{"__metadata__", &t}}, {}), Error);
  EXPECT_THROW(serialize_safetensors({{"s", &scalar}}, {}), Error);
  EXPECT_THROW(serialize_safetensors({{"n", nullptr}}, {}), Error);
  EXPECT_THROW(serialize_safetensors({{"bad\xff", &t}}, {}), Error);  // not UTF-8
}

TEST(Safetensors, ReadsHandWrittenF16Bf16F64AndScalars) {
  std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("h":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},)"
      R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[12,18]},)"
      R"("d":{"dtype":"F64","shape":[1,3],"data_offsets":[18,42]},)"
      R"("f":{"dtype":"F32","shape":[],"data_offsets":[42,46]},)"
      R"("z":{"dtype":"F32","shape":[0,5],"data_offsets":[46,46]}})";
  std::vector<uint8_t> data;
  for (uint16_t h : {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x3555}) append<uint16_t>(data, h);
  for (uint16_t b : {0x3F80, 0xC040, 0x4049}) append<uint16_t>(data, b);
  for (double d : {0.1, -1e300, 2.5}) append<double>(data, d);
  append<float>(data, 7.5f);
  SafetensorsFile f = parse_safetensors(file_bytes(header, data), "hand.safetensors");

  ASSERT_EQ(f.tensors.size(), 5u);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  const Tensor& h = *f.find("h");
  EXPECT_EQ(h.shape(), (Shape{2, 3}));
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));  // smallest subnormal half
  EXPECT_EQ(h[4], std::numeric_limits<float>::infinity());
  EXPECT_EQ(h[5], 0.333251953125f);
  const Tensor& b = *f.find("b");
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -3.0f);
  EXPECT_EQ(b[2], 3.140625f);
  const Tensor& d = *f.find("d");
  EXPECT_EQ(d.shape(), (Shape{1, 3}));
  EXPECT_EQ(d[0], 0.1f);
  EXPECT_EQ(d[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(d[2], 2.5f);
  EXPECT_EQ(f.find("f")->shape(), (Shape{1})) << "a scalar reads as Shape{1}";
  EXPECT_EQ((*f.find("f"))[0], 7.5f);
  EXPECT_EQ(f.find("z")->numel(), 0);
  // Returned in data-section order.
  EXPECT_EQ(f.tensors[0].first, "h");
  EXPECT_EQ(f.tensors[4].first, "z");
}

// PyTorch's BatchNorm state holds num_batches_tracked as an int64 scalar.
TEST(Safetensors, ReadsIntegerTensorsAsFloats) {
  std::string header =
      R"({"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("i":{"dtype":"I32","shape":[3],"data_offsets":[8,20]}})";
  std::vector<uint8_t> data;
  append<int64_t>(data, 938);
  for (int32_t v : {-5, 0, 16777216}) append<int32_t>(data, v);
  SafetensorsFile f = parse_safetensors(file_bytes(header, data), "ints.safetensors");
  EXPECT_EQ(f.find("n")->shape(), (Shape{1}));
  EXPECT_EQ((*f.find("n"))[0], 938.0f);
  const Tensor& i = *f.find("i");
  EXPECT_EQ(i[0], -5.0f);
  EXPECT_EQ(i[1], 0.0f);
  EXPECT_EQ(i[2], 16777216.0f);
  // The byte count follows the integer width.
  EXPECT_THROW(parse_safetensors(file_bytes(R"({"n":{"dtype":"I64","shape":[1],"data_offsets":[0,4]}})",
                                            std::vector<uint8_t>(4)), "short.safetensors"),
               Error);
}

TEST(Safetensors, HalfConversionCoversEverySubnormal) {
  std::string header = R"({"h":{"dtype":"F16","shape":[1024],"data_offsets":[0,2048]}})";
  std::vector<uint8_t> data;
  for (uint16_t m = 0; m < 1024; ++m) append<uint16_t>(data, m);
  SafetensorsFile f = parse_safetensors(file_bytes(header, data), "sub");
  const Tensor& h = *f.find("h");
  for (int m = 0; m < 1024; ++m) ASSERT_EQ(h[m], std::ldexp(static_cast<float>(m), -24)) << m;
}

struct Hostile {
  const char* what;
  std::vector<uint8_t> bytes;
  std::vector<std::string> expect;  // substrings of the message
};

std::vector<Hostile> hostile_cases() {
  auto one = [](const std::string& info, size_t data_len = 8) {
    return file_bytes(R"({"t":)" + info + "}", std::vector<uint8_t>(data_len, 0));
  };
  const std::string good2 = R"("dtype":"F32","shape":[2])";
  std::vector<Hostile> c;
  c.push_back({"shorter than 8 bytes", {1, 2, 3}, {"at least the 8-byte"}});
  c.push_back({"empty file", {}, {"at least the 8-byte"}});
  std::vector<uint8_t> past(8, 0);
  past[0] = 100;
  past.insert(past.end(), 20, '{');
  c.push_back({"header length past the end", past, {"header length 100 runs past the end"}});
  std::vector<uint8_t> absurd(16, ' ');
  uint64_t big = uint64_t{1} << 40;
  std::memcpy(absurd.data(), &big, 8);
  c.push_back({"absurd header length", absurd, {"exceeds the limit"}});
  c.push_back({"zero header length", file_bytes("", {}), {"does not start with '{'"}});
  c.push_back({"header not an object", file_bytes("[1,2]   ", {}), {"does not start with '{'"}});
  c.push_back({"malformed JSON", file_bytes(R"({"t":{"dtype":)", {}), {"malformed JSON"}});
  c.push_back({"invalid UTF-8", file_bytes("{\"\xff\":1}", {}), {"malformed JSON"}});
  c.push_back({"junk after the JSON", file_bytes("{} x", {}), {"malformed JSON"}});
  c.push_back({"info not an object", one("[1]"), {"tensor 't'", "expected an object"}});
  c.push_back({"missing dtype", one(R"({"shape":[2],"data_offsets":[0,8]})"), {"tensor 't'", "missing field \"dtype\""}});
  c.push_back({"missing shape", one(R"({"dtype":"F32","data_offsets":[0,8]})"), {"tensor 't'", "missing field \"shape\""}});
  c.push_back({"missing offsets", one("{" + good2 + "}"), {"tensor 't'", "missing field \"data_offsets\""}});
  c.push_back({"dtype not a string", one(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"), {"\"dtype\" must be a string"}});
  c.push_back({"unsupported dtype", one(R"({"dtype":"U16","shape":[4],"data_offsets":[0,8]})"), {"tensor 't'", "dtype U16 is not supported"}});
  c.push_back({"shape not an array", one(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})"), {"\"shape\" must be an array"}});
  c.push_back({"negative dim", one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), {"tensor 't'", "non-negative integers, found -2"}});
  c.push_back({"fractional dim", one(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), {"non-negative integers"}});
  c.push_back({"string dim", one(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})"), {"non-negative integers"}});
  c.push_back({"dim beyond u64", one(R"({"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]})"), {"non-negative integers"}});
  c.push_back({"dim beyond i64", one(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]})"), {"too large"}});
  c.push_back({"shape overflow", one(R"({"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]})"), {"overflows"}});
  c.push_back({"rank 5", one(R"({"dtype":"F32","shape":[1,1,1,1,2],"data_offsets":[0,8]})"), {"tensor 't'", "rank 5 exceeds"}});
  c.push_back({"offsets not a pair", one("{" + good2 + R"(,"data_offsets":[0]})"), {"data_offsets"}});
  c.push_back({"negative offset", one("{" + good2 + R"(,"data_offsets":[-8,0]})"), {"data_offsets"}});
  c.push_back({"end before begin", one("{" + good2 + R"(,"data_offsets":[8,0]})"), {"tensor 't'", "end 0 is before begin 8"}});
  c.push_back({"size mismatch", one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), {"tensor 't'", "needs 12 bytes", "hold 8"}});
  c.push_back({"offsets past the data", one("{" + good2 + R"(,"data_offsets":[0,8]})", 4), {"tensor 't'", "run past the data section of 4 bytes"}});
  c.push_back({"huge offsets", one("{" + good2 + R"(,"data_offsets":[18446744073709551608,18446744073709551615]})"), {"tensor 't'"}});
  c.push_back({"overlap", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::vector<uint8_t>(12)),
               {"tensor 'b'", "overlap tensor 'a'"}});
  c.push_back({"hole", file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", std::vector<uint8_t>(12)),
               {"tensor 'b'", "hole of 4 bytes after tensor 'a'"}});
  c.push_back({"hole at the start", one("{" + good2 + R"(,"data_offsets":[4,12]})", 12), {"hole of 4 bytes after the header"}});
  c.push_back({"trailing bytes", one("{" + good2 + R"(,"data_offsets":[0,8]})", 9), {"1 bytes after the last tensor"}});
  c.push_back({"data without tensors", file_bytes("{}", {1, 2, 3}), {"3 bytes after the last tensor"}});
  c.push_back({"duplicate tensor", file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::vector<uint8_t>(4)),
               {"names tensor 'a' twice"}});
  c.push_back({"duplicate field", one(R"({"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]})"), {"repeats key 'dtype'"}});
  c.push_back({"metadata not an object", file_bytes(R"({"__metadata__":[1]})", {}), {"__metadata__ must be an object"}});
  c.push_back({"metadata value not a string", file_bytes(R"({"__metadata__":{"epoch":3}})", {}), {"__metadata__ 'epoch' must be a string"}});
  return c;
}

TEST(Safetensors, HostileHeadersAreRefusedWithNamedErrors) {
  for (const Hostile& h : hostile_cases()) {
    std::string msg = error_of(h.bytes);
    EXPECT_EQ(msg.rfind("hostile.safetensors: ", 0), 0u) << h.what << ": " << msg;
    for (const std::string& s : h.expect) EXPECT_NE(msg.find(s), std::string::npos) << h.what << ": " << msg;
  }
}

// Each corrupted file either parses or throws Error: no crash, no other exception, no
// over-read (run under MNISTCNN_SANITIZE to check the last).
TEST(Safetensors, RandomTruncationsAndFlipsNeverCrash) {
  Tensor a = filled({4, 3}, 1), b = filled({2, 1, 2, 2}, 2), c = filled({5}, 3);
  std::vector<uint8_t> good = serialize_safetensors({{"a", &a}, {"b", &b}, {"c", &c}}, {{"k", "v"}});
  std::mt19937_64 gen(1234);
  int parsed = 0, refused = 0;
  auto attempt = [&](const std::vector<uint8_t>& bytes) {
    try {
      parse_safetensors(bytes, "fuzz");
      ++parsed;
    } catch (const Error&) {
      ++refused;
    }
  };
  for (size_t len = 0; len < good.size(); ++len) attempt({good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len)});
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes = good;
    int flips = 1 + static_cast<int>(gen() % 4);
    for (int k = 0; k < flips; ++k) {
      // Mostly the length and header, where the parser's decisions are.
      size_t limit = gen() % 4 == 0 ? bytes.size() : std::min<size_t>(bytes.size(), 8 + 96);
      size_t at = gen() % limit;
      bytes[at] = gen() % 2 ? static_cast<uint8_t>(gen()) : static_cast<uint8_t>(bytes[at] ^ (1u << (gen() % 8)));
    }
    if (gen() % 8 == 0) bytes.resize(gen() % bytes.size());
    attempt(bytes);
  }
  std::printf("corrupted files: %d parsed, %d refused\n", parsed, refused);
  EXPECT_GT(parsed, 0);
  EXPECT_GT(refused, 0);
}

TEST_F(SafetensorsFileTest, OverwriteIsAtomicAndLeavesNoTemporary) {
  std::string path = (dir_ / "m.safetensors").string();
  Tensor a = filled({3}, 0), b = filled({5}, 9);
  write_safetensors(path, {{"a", &a}}, {});
  write_safetensors(path, {{"b", &b}}, {{"v", "2"}});
  SafetensorsFile f = read_safetensors(path);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_TRUE(same_bits(*f.find("b"), b));
  EXPECT_EQ(listing(), std::vector<std::string>{"m.safetensors"});
}

TEST_F(SafetensorsFileTest, FailedWritesLeaveNothing) {
  Tensor a = filled({3}, 0);
  std::string missing = (dir_ / "no" / "such" / "m.safetensors").string();
  try {
    write_safetensors(missing, {{"a", &a}}, {});
    FAIL() << "wrote into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(missing, 0), 0u) << e.what();
  }
  EXPECT_TRUE(listing().empty());

  // Renaming over a directory fails after the temporary exists: it must be removed.
  fs::create_directory(dir_ / "taken");
  EXPECT_THROW(write_safetensors((dir_ / "taken").string(), {{"a", &a}}, {}), Error);
  EXPECT_EQ(listing(), std::vector<std::string>{"taken"});
  EXPECT_TRUE(fs::is_empty(dir_ / "taken"));

  // A writer error (duplicate name) happens before any file is touched.
  EXPECT_THROW(write_safetensors((dir_ / "dup.safetensors").string(), {{"a", &a}, {"a", &a}}, {}), Error);
  EXPECT_EQ(listing(), std::vector<std::string>{"taken"});
}

TEST_F(SafetensorsFileTest, ReadErrorsNameTheFile) {
  std::string path = (dir_ / "absent.safetensors").string();
  try {
    read_safetensors(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path, 0), 0u) << e.what();
  }
  EXPECT_THROW(read_safetensors(dir_.string()), Error);
  std::string bad = (dir_ / "bad.safetensors").string();
  uint8_t junk[5] = {1, 2, 3, 4, 5};
  write_file_atomic(bad, junk);
  try {
    read_safetensors(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(bad + ": ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace mnistcnn::io
