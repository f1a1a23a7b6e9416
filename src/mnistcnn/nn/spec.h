// The architecture spec language: a line of layers separated by spaces, each
// `kind` or `kind(arg, ..., key=value)`, e.g.
//   conv(32,3) relu maxpool(2) conv(64,3,stride=1,pad=1) relu flatten dropout(0.5) dense(10)
// Parsing goes through the one layer registry (registry.h).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace mnistcnn::nn {

// Arguments of one layer in a spec, with typed accessors whose errors name the layer.
class LayerArgs {
 public:
  // `what` names the thing in messages ("layer 'conv(x)': ..."); schedules reuse this.
  LayerArgs(std::string layer, std::vector<std::string> positional,
            std::map<std::string, std::string> named, std::string what = "layer");

  // Argument by position or by name; `fallback` when absent. Throws if malformed.
  int64_t integer(size_t pos, const std::string& key, int64_t fallback, int64_t lo, int64_t hi);
  int64_t required_integer(size_t pos, const std::string& key, int64_t lo, int64_t hi);
  double real(size_t pos, const std::string& key, double fallback, double lo, double hi);
  bool boolean(size_t pos, const std::string& key, bool fallback);
  // True, consuming the argument, when it is given and is exactly `word` (pad=same,
  // momentum=none); otherwise leaves it to the typed accessors above.
  bool word(size_t pos, const std::string& key, const std::string& word);
  // Throws if any argument was not consumed by the accessors above.
  void finish() const;

  const std::string& layer() const { return layer_; }

 private:
  const std::string* find(size_t pos, const std::string& key);
  std::string layer_;
  std::string what_;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> named_;
  std::vector<bool> used_pos_;
  std::map<std::string, bool> used_named_;
};

struct LayerSpec {
  std::string kind;
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;
  std::string text;  // as written, for error messages
};

// Splits a spec line into layer specs; throws Error on syntax errors (naming the column).
std::vector<LayerSpec> parse_spec(const std::string& spec);

// Formats a number for a spec so that it parses back to the same value. The float form
// is for float parameters (dropout's p, leakyrelu's slope): 0.3f gives "0.3", the
// shortest text that reads back as the same float.
std::string spec_number(double v);
std::string spec_number(float v);

}  // namespace mnistcnn::nn
