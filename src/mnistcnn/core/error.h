// The one error type the library throws. Messages name the thing (file, tensor, layer,
// flag) and the problem, and may carry a hint; only the CLI and server turn them into
// exit codes or HTTP statuses.
#pragma once
#include <stdexcept>
#include <string>

namespace mnistcnn {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, const std::string& hint = "")
      : std::runtime_error(hint.empty() ? what : what + "\n  hint: " + hint), hint_(hint) {}
  const std::string& hint() const { return hint_; }

 private:
  std::string hint_;
};

}  // namespace mnistcnn
