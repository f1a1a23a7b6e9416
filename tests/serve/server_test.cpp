// The server over real HTTP on an ephemeral port (httplib's client): pages, 404/413/400
// with JSON errors, concurrent predictions equal to one at a time, and a PNG read the same
// through the API as through `mnistcnn predict`.
#include "mnistcnn/serve/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "explain/support_models.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/io/file.h"
#include "mnistcnn/io/png.h"
#include "support/run_cli.h"

namespace mnistcnn {
namespace {

using nlohmann::json;

class Running {
 public:
  Running(const explain::Predictor& p, serve::ServerOptions o) : server_(p, (o.port = 0, o)) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~Running() {
    server_.stop();
    thread_.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    return c;
  }

 private:
  serve::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string digit_png(const std::string& dir) {
  std::vector<uint8_t> px(100 * 100, 255);
  for (int y = 20; y < 80; ++y)
    for (int x = 45; x < 55; ++x) px[static_cast<size_t>(y * 100 + x + (80 - y) / 6)] = 0;  // a slanted "1"
  io::write_png_gray(dir + "/one.png", 100, 100, px.data());
  return dir + "/one.png";
}

std::string body_of(const std::string& path) {
  const auto b = io::read_file_bytes(path);
  return {b.begin(), b.end()};
}

void expect_json_error(const httplib::Result& r, int status) {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_TRUE(json::parse(r->body, nullptr, false).contains("error")) << r->body;
}

TEST(Server, ServesThePageAndTheApi) {
  const explain::Predictor p(testing::digit_model());
  Running s(p, {});
  auto c = s.client();
  const auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<canvas id=\"pad\""), std::string::npos);
  for (const char* asset : {"/app.js", "/style.css", "/index.html"}) {
    const auto r = c.Get(asset);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << asset;
    EXPECT_FALSE(r->body.empty()) << asset;
  }
  EXPECT_EQ(json::parse(c.Get("/api/health")->body)["status"], "ok");
  EXPECT_EQ(json::parse(c.Get("/api/model")->body)["params"], p.param_count());
  expect_json_error(c.Get("/nope"), 404);
  expect_json_error(c.Get("/api/random"), 404);  // no --data
  expect_json_error(c.Post("/api/correct?label=1", "x", "image/png"), 403);
}

TEST(Server, RefusesLargeAndMalformedBodies) {
  const explain::Predictor p(testing::digit_model());
  serve::ServerOptions o;
  o.max_body_bytes = 64 * 1024;
  Running s(p, o);
  auto c = s.client();
  expect_json_error(c.Post("/api/predict", std::string(100 * 1024, 'x'), "image/png"), 413);
  expect_json_error(c.Post("/api/predict", "not a png", "image/png"), 400);
  expect_json_error(c.Post("/api/predict", "[1,2,3]", "application/json"), 400);
  expect_json_error(c.Post("/api/predict", "{\"pixels\": [", "application/json"), 400);
  expect_json_error(c.Post("/api/predict", "hello", "text/plain"), 415);
  expect_json_error(c.Post("/api/correct", "x", "image/png"), 400);  // no label
  // Still serving after all that.
  EXPECT_EQ(c.Get("/api/health")->status, 200);
}

TEST(Server, ConcurrentPredictionsEqualOneAtATime) {
  const explain::Predictor p(testing::digit_model(), {.max_concurrent = 2});
  serve::ServerOptions o;
  o.http_threads = 6;
  Running s(p, o);
  const std::string dir = testing::make_temp_dir("server_png");
  const std::string png = body_of(digit_png(dir));
  const auto want = json::parse(s.client().Post("/api/predict", png, "image/png")->body);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      auto c = s.client();
      for (int i = 0; i < 15; ++i) {
        const auto r = c.Post("/api/predict", png, "image/png");
        if (!r || r->status != 200 || json::parse(r->body)["probabilities"] != want["probabilities"]) ++bad;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  std::filesystem::remove_all(dir);
}

// The page's canvas PNG and `mnistcnn predict` on the same file go through one code path.
TEST(Server, ReadsAPngExactlyAsThePredictCommandDoes) {
  const std::string dir = testing::make_temp_dir("server_same");
  io::LoadedModel m = testing::digit_model();
  io::save_model(dir + "/m.safetensors", m.net, m.info);
  const explain::Predictor p = explain::Predictor::load(dir + "/m.safetensors");
  Running s(p, {});
  const std::string png = digit_png(dir);
  const auto api = json::parse(s.client().Post("/api/predict", body_of(png), "image/png")->body);
  const auto cli = testing::run_cli("predict --model " + dir + "/m.safetensors " + png + " --json");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto j = json::parse(cli.out)["predictions"][0];
  EXPECT_EQ(api["probabilities"], j["probabilities"]);
  EXPECT_EQ(api["label"], j["label"]);
  std::filesystem::remove_all(dir);
}

TEST(Server, BindFailsWithAClearError) {
  const explain::Predictor p(testing::digit_model());
  serve::ServerOptions o;
  o.host = "203.0.113.7";  // TEST-NET-3: not an address of this machine, nothing is sent
  o.port = 8080;
  serve::Server s(p, o);
  try {
    s.bind();
    FAIL() << "bound to a foreign address";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 203.0.113.7:8080"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mnistcnn
