// The JSON API without HTTP: every body the server accepts, and every malformed one
// answered with a 4xx and a JSON error naming the problem.
#include "mnistcnn/serve/api.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "explain/support_models.h"
#include "mnistcnn/io/file.h"
#include "mnistcnn/io/png.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

using nlohmann::json;

// A dark-on-white PNG of a ring, as a canvas would send it.
std::string ring_png(int side = 140) {
  const std::string dir = testing::make_temp_dir("api_png");
  std::vector<uint8_t> px(static_cast<size_t>(side) * side, 255);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      if (std::abs(std::hypot(x - side / 2.0, y - side / 2.0) - side * 0.3) < side * 0.05) px[static_cast<size_t>(y * side + x)] = 0;
  io::write_png_gray(dir + "/ring.png", side, side, px.data());
  const auto bytes = io::read_file_bytes(dir + "/ring.png");
  std::filesystem::remove_all(dir);
  return {bytes.begin(), bytes.end()};
}

std::string pixels_json(float value, size_t n = 784) { return json(std::vector<float>(n, value)).dump(); }

struct ApiFixture : ::testing::Test {
  explain::Predictor predictor{testing::digit_model()};
  std::string dir = testing::make_temp_dir("api_corrections");
  std::unique_ptr<serve::Api> api;
  void SetUp() override { make(10); }
  void make(int64_t max_corrections) {
    auto test = std::make_unique<data::Dataset>();
    test->images.assign(3 * 784, 0);
    test->images[784 + 300] = 200;
    test->labels = {7, 2, 1};
    api = std::make_unique<serve::Api>(predictor, serve::ApiOptions{"m.safetensors", 0.5}, std::move(test), "",
                                       std::make_unique<serve::CorrectionStore>(dir, predictor.class_names(), max_corrections), "");
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
};

void expect_error(const serve::ApiResponse& r, int status, const std::string& part) {
  EXPECT_EQ(r.status, status) << r.body;
  const json j = json::parse(r.body);
  ASSERT_TRUE(j.contains("error")) << r.body;
  EXPECT_NE(j["error"].get<std::string>().find(part), std::string::npos) << r.body;
}

TEST_F(ApiFixture, PredictsPngsAndPixelArrays) {
  const auto r = api->predict(ring_png(), "image/png", true);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  EXPECT_FALSE(j["blank"].get<bool>());
  EXPECT_EQ(j["probabilities"].size(), 10u);
  double sum = 0;
  for (const auto& p : j["probabilities"]) sum += p.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(j["saliency"].size(), 784u);
  EXPECT_EQ(j["gradcam"].size(), 784u);
  EXPECT_EQ(j["input"].size(), 784u);
  EXPECT_EQ(j["label"].get<std::string>(), std::to_string(j["index"].get<int>()));

  const data::DigitImage ring = testing::ring_digit();
  const std::vector<float> px(ring.pixels.begin(), ring.pixels.end());
  const auto a = json::parse(api->predict(json(px).dump(), "application/json", false).body);
  const auto b = json::parse(api->predict(json{{"pixels", px}, {"preprocess", false}}.dump(), "application/json; charset=utf-8", false).body);
  EXPECT_EQ(a["probabilities"], b["probabilities"]);
  EXPECT_EQ(a["probabilities"], json(predictor.predict(ring).probabilities));
  EXPECT_TRUE(a["saliency"].empty());  // explain=0
}

TEST_F(ApiFixture, BlankImagesAreNotDigits) {
  const auto j = json::parse(api->predict(pixels_json(0.0f), "application/json", true).body);
  EXPECT_TRUE(j["blank"].get<bool>());
  EXPECT_TRUE(j["label"].is_null());
  EXPECT_TRUE(j["probabilities"].empty());
}

TEST_F(ApiFixture, MalformedBodiesAre400WithAReason) {
  expect_error(api->predict("", "image/png", true), 400, "empty");
  expect_error(api->predict("\x89PNG\r\n\x1a\nnot really", "image/png", true), 400, "PNG");
  expect_error(api->predict("{\"pixels\": [1, 2", "application/json", true), 400, "not valid JSON");
  expect_error(api->predict("[NaN]", "application/json", true), 400, "not valid JSON");
  expect_error(api->predict(pixels_json(0.5f, 783), "application/json", true), 400, "783 values");
  expect_error(api->predict(pixels_json(1.5f), "application/json", true), 400, "expected a number in [0, 1]");
  std::vector<double> big(784, 0.0);
  big[5] = 1e300;  // a double, beyond a float
  expect_error(api->predict(json(big).dump(), "application/json", true), 400, "pixels: value 5");
  std::string huge = json(big).dump();
  huge.replace(huge.find("1e+300"), 6, "1e999");  // beyond a double: nlohmann refuses it
  expect_error(api->predict(huge, "application/json", true), 400, "JSON");
  expect_error(api->predict("{\"pixels\": \"abc\"}", "application/json", true), 400, "string");
  expect_error(api->predict("{\"image\": []}", "application/json", true), 400, "no \"pixels\"");
  expect_error(api->predict("[\"a\"]", "application/json", true), 400, "1 values");
  json strings = std::vector<std::string>(784, "0");
  expect_error(api->predict(strings.dump(), "application/json", true), 400, "pixel 0 is string");
  expect_error(api->predict(json{{"pixels", std::vector<float>(784, 0.1f)}, {"preprocess", "yes"}}.dump(), "application/json", true), 400, "preprocess");
  expect_error(api->predict("abc", "text/plain", true), 415, "text/plain");
}

TEST_F(ApiFixture, CorrectionsAreStoredAsMnistPngsInClassFolders) {
  const auto r = api->correct(ring_png(), "image/png", "7");
  ASSERT_EQ(r.status, 201) << r.body;
  const json j = json::parse(r.body);
  const std::string saved = j["saved"];
  EXPECT_EQ(saved.rfind("7/", 0), 0u) << saved;
  const auto img = io::read_png_gray(dir + "/" + saved);
  EXPECT_EQ(img.width, 28);
  EXPECT_EQ(img.height, 28);
  EXPECT_EQ(j["count"], 1);
  // The stored digit is the one the network saw, ink white on black.
  const auto seen = json::parse(api->predict(ring_png(), "image/png", false).body)["input"];
  for (size_t i = 0; i < 784; ++i) EXPECT_NEAR(img.value[i], seen[i].get<double>(), 1.0 / 255 + 1e-3) << i;
  EXPECT_EQ(json::parse(api->corrections().body)["counts"]["7"], 1);

  expect_error(api->correct(ring_png(), "image/png", "x"), 400, "label 'x' is not a class");
  expect_error(api->correct(ring_png(), "image/png", "../7"), 400, "is not a class");
  expect_error(api->correct(pixels_json(0.0f), "application/json", "3"), 400, "blank");
  expect_error(api->correct("garbage", "image/png", "3"), 400, "PNG");
}

TEST_F(ApiFixture, AFullStoreRefusesWith507) {
  make(2);
  EXPECT_EQ(api->correct(ring_png(), "image/png", "1").status, 201);
  EXPECT_EQ(api->correct(ring_png(), "image/png", "2").status, 201);
  expect_error(api->correct(ring_png(), "image/png", "3"), 507, "most corrections");
}

TEST_F(ApiFixture, RandomDigitsComeFromTheTestSet) {
  const json j = json::parse(api->random_digit("1").body);
  EXPECT_EQ(j["label"], "2");
  EXPECT_EQ(j["bytes"][300], 200);
  EXPECT_EQ(json::parse(api->random_digit(std::nullopt).body)["bytes"].size(), 784u);
  for (const char* bad : {"3", "-1", "x", "1x", ""}) expect_error(api->random_digit(bad), 400, "whole number");
}

TEST(Api, FeaturesOffSayWhy) {
  const explain::Predictor p(testing::digit_model());
  serve::Api api(p, {}, nullptr, "no --data directory given", nullptr, "started without --corrections DIR");
  expect_error(api.random_digit(std::nullopt), 404, "no --data directory");
  expect_error(api.correct("x", "image/png", "1"), 403, "without --corrections");
  const json m = json::parse(api.model().body);
  EXPECT_FALSE(m["random_digits"]["available"].get<bool>());
  EXPECT_EQ(m["params"], p.param_count());
  EXPECT_EQ(m["layers"].size(), p.network().size());
  EXPECT_EQ(json::parse(api.health().body)["status"], "ok");
}

}  // namespace
}  // namespace mnistcnn
