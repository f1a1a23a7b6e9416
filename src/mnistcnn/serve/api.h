// The server's JSON API, apart from HTTP: each call takes a request's body and
// parameters and returns a status and a JSON body, so the handlers are tested without a
// socket and the HTTP layer (server.h) only routes. Bad input is a 4xx with
// {"error": "..."}, never an exception out of here.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mnistcnn/data/dataset.h"
#include "mnistcnn/explain/predictor.h"
#include "mnistcnn/serve/corrections.h"

namespace mnistcnn::serve {

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
};

struct ApiOptions {
  std::string model_name;      // shown in /api/model
  double min_confidence = 0.5;  // a top probability below this is "not sure"
};

class Api {
 public:
  // `test_set` (may be null: no random digits, `test_set_reason` says why) and
  // `corrections` (may be null: corrections off, `corrections_reason` says why).
  Api(const explain::Predictor& predictor, const ApiOptions& options, std::unique_ptr<data::Dataset> test_set,
      std::string test_set_reason, std::unique_ptr<CorrectionStore> corrections, std::string corrections_reason);

  // POST /api/predict. content_type "image/png" (the PNG's bytes) or "application/json"
  // (784 numbers in [0, 1], or {"pixels": [...], "preprocess": bool}).
  ApiResponse predict(std::string_view body, std::string_view content_type, bool explain) const;
  // POST /api/correct?label=L: the same bodies; stores the digit the network would see.
  ApiResponse correct(std::string_view body, std::string_view content_type, std::string_view label) const;
  // GET /api/random[?index=N]: an MNIST test digit as 784 bytes with its true label.
  ApiResponse random_digit(std::optional<std::string_view> index) const;
  ApiResponse model() const;        // GET /api/model
  ApiResponse health() const;       // GET /api/health
  ApiResponse corrections() const;  // GET /api/corrections

  static ApiResponse error(int status, const std::string& message);

 private:
  // The body as a digit in MNIST's form, or an error response.
  std::optional<data::DigitImage> read_digit(std::string_view body, std::string_view content_type,
                                             ApiResponse& error) const;

  const explain::Predictor& predictor_;
  ApiOptions options_;
  std::unique_ptr<data::Dataset> test_set_;
  std::string test_set_reason_;
  std::unique_ptr<CorrectionStore> corrections_;
  std::string corrections_reason_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  mutable std::atomic<int64_t> predictions_{0};
};

}  // namespace mnistcnn::serve
