#include "mnistcnn/serve/server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "mnistcnn/core/error.h"
#include "mnistcnn/serve/api.h"
#include "mnistcnn/serve/page_assets.h"

namespace mnistcnn::serve {

namespace {

const char* kJson = "application/json";

void send(httplib::Response& res, const ApiResponse& r) {
  res.status = r.status;
  res.set_content(r.body, kJson);
}

std::string status_text(int status) {
  switch (status) {
    case 400: return "bad request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 413: return "request body too large";
    case 414: return "request URI too long";
    case 415: return "unsupported media type";
    default: return "HTTP error " + std::to_string(status);
  }
}

}  // namespace

struct Server::Impl {
  const explain::Predictor& predictor;
  ServerOptions options;
  std::string random_status, corrections_status;
  std::unique_ptr<Api> api;
  httplib::Server http;
  int port = -1;

  Impl(const explain::Predictor& p, const ServerOptions& o) : predictor(p), options(o) {
    std::unique_ptr<data::Dataset> test;
    if (options.data_dir.empty()) {
      random_status = "no --data directory given";
    } else {
      try {
        test = std::make_unique<data::Dataset>(data::load_idx_split(options.data_dir, data::Split::Test));
        if (test->rows != 28 || test->cols != 28 || test->size() == 0) {
          random_status = options.data_dir + ": the test images are not 28x28 digits";
          test.reset();
        }
      } catch (const Error& e) {
        random_status = e.what();
      }
    }
    std::unique_ptr<CorrectionStore> store;
    if (options.corrections_dir.empty()) {
      corrections_status = "the server was started without --corrections DIR";
    } else {  // a directory we cannot use is the user's explicit request failing: refuse to start
      store = std::make_unique<CorrectionStore>(options.corrections_dir, predictor.class_names(), options.max_corrections);
    }
    api = std::make_unique<Api>(predictor, ApiOptions{options.model_name, options.min_confidence}, std::move(test),
                                random_status, std::move(store), corrections_status);
    routes();
  }

  void routes() {
    const int threads = std::max(1, options.http_threads);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_payload_max_length(options.max_body_bytes);
    // Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus the
    // client's delayed ACK add 40 ms to every answer (measured under wrk, 8 connections:
    // p50 44 ms and 275 requests/s with Nagle, 10 ms and 686/s without).
    http.set_tcp_nodelay(true);
    http.set_read_timeout(10, 0);
    http.set_write_timeout(10, 0);
    for (const PageAsset& a : page_assets()) {
      auto serve_asset = [&a](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(a.body), std::string(a.content_type).c_str());
        res.set_header("Cache-Control", "no-cache");
      };
      http.Get(std::string(a.path), serve_asset);
      if (a.path == "/index.html") http.Get("/", serve_asset);
    }
    http.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) { send(res, api->health()); });
    http.Get("/api/model", [this](const httplib::Request&, httplib::Response& res) { send(res, api->model()); });
    http.Get("/api/corrections", [this](const httplib::Request&, httplib::Response& res) { send(res, api->corrections()); });
    http.Get("/api/random", [this](const httplib::Request& req, httplib::Response& res) {
      const bool given = req.has_param("index");
      const std::string index = given ? req.get_param_value("index") : std::string();
      send(res, api->random_digit(given ? std::optional<std::string_view>(index) : std::nullopt));
    });
    http.Post("/api/predict", [this](const httplib::Request& req, httplib::Response& res) {
      const bool explain = !(req.has_param("explain") && req.get_param_value("explain") == "0");
      send(res, api->predict(req.body, req.get_header_value("Content-Type"), explain));
    });
    http.Post("/api/correct", [this](const httplib::Request& req, httplib::Response& res) {
      if (!req.has_param("label")) return send(res, Api::error(400, "give the true class as ?label=..."));
      send(res, api->correct(req.body, req.get_header_value("Content-Type"), req.get_param_value("label")));
    });
    // Every error, ours or httplib's (404, 413, malformed requests), as JSON.
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) res.set_content(nlohmann::json{{"error", status_text(res.status)}}.dump(), kJson);
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::bad_alloc&) {
        what = "out of memory";
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      res.status = 500;
      res.set_content(nlohmann::json{{"error", what}}.dump(), kJson);
    });
  }
};

Server::Server(const explain::Predictor& predictor, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(predictor, options)) {}

Server::~Server() { stop(); }

int Server::bind() {
  const auto& o = impl_->options;
  if (o.port < 0 || o.port > 65535) throw Error("--port " + std::to_string(o.port) + ": must be 0 to 65535");
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
  } else {
    impl_->port = impl_->http.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  if (impl_->port < 0)
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port),
                "is another server using the port, or is the host not an address of this machine?");
  return impl_->port;
}

void Server::run() {
  if (impl_->port < 0) throw Error("Server::run before bind()");
  impl_->http.listen_after_bind();
}

void Server::stop() {
  if (impl_) impl_->http.stop();
}

const std::string& Server::random_digits_status() const { return impl_->random_status; }
const std::string& Server::corrections_status() const { return impl_->corrections_status; }

}  // namespace mnistcnn::serve
