// Server: `mnistcnn serve` as a library: the page and the JSON API over HTTP
// (cpp-httplib). The model is loaded once; requests run on a pool of HTTP threads and
// predictions on the Predictor's pool of network copies. Bodies over the limit get 413,
// unknown paths 404, bad bodies 400, all with {"error": "..."}.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "mnistcnn/explain/predictor.h"

namespace mnistcnn::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0: any free port (see bind())
  std::string model_name;            // shown on the page
  std::string data_dir;              // IDX directory with MNIST's test set, for random digits ("" = none)
  std::string corrections_dir;       // where corrected digits go ("" = corrections off)
  int64_t max_corrections = 10000;
  size_t max_body_bytes = 4u << 20;  // a 280×280 canvas PNG is ~10 KB
  int http_threads = 8;              // connections served at once
  double min_confidence = 0.5;
};

class Server {
 public:
  // Loads the test set and opens the corrections directory; either failing only turns
  // its feature off (the reasons are in random_digits_status() / corrections_status()).
  Server(const explain::Predictor& predictor, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and returns the port (the chosen one when port is 0); Error if the
  // address is taken or invalid.
  int bind();
  // Serves until stop(); call bind() first.
  void run();
  void stop();  // from any thread

  const std::string& random_digits_status() const;  // "" when available
  const std::string& corrections_status() const;    // "" when on

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mnistcnn::serve
