#include "mnistcnn/nn/spec.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "mnistcnn/core/error.h"
#include "mnistcnn/core/number_text.h"

namespace mnistcnn::nn {

LayerArgs::LayerArgs(std::string layer, std::vector<std::string> positional,
                     std::map<std::string, std::string> named, std::string what)
    : layer_(std::move(layer)),
      what_(std::move(what)),
      positional_(std::move(positional)),
      named_(std::move(named)),
      used_pos_(positional_.size(), false) {}

const std::string* LayerArgs::find(size_t pos, const std::string& key) {
  auto it = named_.find(key);
  if (it != named_.end()) {
    if (pos < positional_.size())
      throw Error(what_ + " '" + layer_ + "': argument '" + key + "' given both by position and by name");
    used_named_[key] = true;
    return &it->second;
  }
  if (pos < positional_.size()) {
    used_pos_[pos] = true;
    return &positional_[pos];
  }
  return nullptr;
}

int64_t LayerArgs::integer(size_t pos, const std::string& key, int64_t fallback, int64_t lo,
                           int64_t hi) {
  const std::string* s = find(pos, key);
  if (!s) return fallback;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || p != s->data() + s->size())
    throw Error(what_ + " '" + layer_ + "': argument '" + key + "' must be an integer, got '" + *s + "'");
  if (v < lo || v > hi)
    throw Error(what_ + " '" + layer_ + "': argument '" + key + "' = " + *s + " is out of range [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

int64_t LayerArgs::required_integer(size_t pos, const std::string& key, int64_t lo, int64_t hi) {
  if (pos >= positional_.size() && !named_.count(key))
    throw Error(what_ + " '" + layer_ + "': missing argument '" + key + "'");
  return integer(pos, key, 0, lo, hi);
}

double LayerArgs::real(size_t pos, const std::string& key, double fallback, double lo, double hi) {
  const std::string* s = find(pos, key);
  if (!s) return fallback;
  char* end = nullptr;
  double v = std::strtod(s->c_str(), &end);
  if (s->empty() || end != s->c_str() + s->size() || !std::isfinite(v))
    throw Error(what_ + " '" + layer_ + "': argument '" + key + "' must be a number, got '" + *s + "'");
  if (v < lo || v > hi)
    throw Error(what_ + " '" + layer_ + "': argument '" + key + "' = " + *s + " is out of range [" +
                spec_number(lo) + ", " + spec_number(hi) + "]");
  return v;
}

bool LayerArgs::boolean(size_t pos, const std::string& key, bool fallback) {
  const std::string* s = find(pos, key);
  if (!s) return fallback;
  if (*s == "true" || *s == "1") return true;
  if (*s == "false" || *s == "0") return false;
  throw Error(what_ + " '" + layer_ + "': argument '" + key + "' must be true or false, got '" + *s + "'");
}

bool LayerArgs::word(size_t pos, const std::string& key, const std::string& word) {
  auto it = named_.find(key);
  const std::string* s = it != named_.end()         ? &it->second
                         : pos < positional_.size() ? &positional_[pos]
                                                    : nullptr;
  if (!s || *s != word) return false;
  find(pos, key);  // marks it used; refuses it given both by position and by name
  return true;
}

void LayerArgs::finish() const {
  for (size_t i = 0; i < positional_.size(); ++i)
    if (!used_pos_[i])
      throw Error(what_ + " '" + layer_ + "': unexpected argument " + std::to_string(i + 1) + " ('" +
                  positional_[i] + "')");
  for (const auto& [k, v] : named_)
    if (!used_named_.count(k))
      throw Error(what_ + " '" + layer_ + "': unknown argument '" + k + "'");
}

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

}  // namespace

std::vector<LayerSpec> parse_spec(const std::string& spec) {
  if (spec.size() > 100000) throw Error("architecture spec is too long (" + std::to_string(spec.size()) + " characters)");
  std::vector<LayerSpec> out;
  size_t i = 0;
  const size_t n = spec.size();
  auto fail = [&](const std::string& what) {
    throw Error("architecture spec, column " + std::to_string(i + 1) + ": " + what + "\n  in: " + spec);
  };
  while (true) {
    while (i < n && (std::isspace(static_cast<unsigned char>(spec[i])) || spec[i] == ',' ||
                     spec[i] == '>' || (spec[i] == '-' && i + 1 < n && spec[i + 1] == '>')))
      ++i;
    if (i >= n) break;
    const size_t start = i;
    while (i < n && is_name_char(spec[i])) ++i;
    if (i == start) fail(std::string("expected a layer name, found '") + spec[i] + "'");
    LayerSpec ls;
    ls.kind = spec.substr(start, i - start);
    for (auto& c : ls.kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (i < n && spec[i] == '(') {
      const size_t close = spec.find(')', i);
      if (close == std::string::npos) fail("'(' of layer '" + ls.kind + "' is not closed");
      const std::string inner = spec.substr(i + 1, close - i - 1);
      if (inner.find('(') != std::string::npos) fail("nested '(' in layer '" + ls.kind + "'");
      size_t p = 0;
      while (p <= inner.size()) {
        size_t q = inner.find(',', p);
        if (q == std::string::npos) q = inner.size();
        std::string arg = trim(inner.substr(p, q - p));
        if (arg.empty()) {
          if (!(q == inner.size() && p == 0 && trim(inner).empty()))
            fail("empty argument in layer '" + ls.kind + "'");
        } else if (auto eq = arg.find('='); eq != std::string::npos) {
          std::string key = trim(arg.substr(0, eq)), val = trim(arg.substr(eq + 1));
          if (key.empty() || val.empty()) fail("malformed argument '" + arg + "' in layer '" + ls.kind + "'");
          if (ls.named.count(key)) fail("argument '" + key + "' repeated in layer '" + ls.kind + "'");
          ls.named[key] = val;
        } else {
          if (!ls.named.empty()) fail("positional argument '" + arg + "' after a named one in layer '" + ls.kind + "'");
          ls.positional.push_back(arg);
        }
        p = q + 1;
      }
      i = close + 1;
    }
    ls.text = spec.substr(start, i - start);
    out.push_back(std::move(ls));
    if (i < n && !std::isspace(static_cast<unsigned char>(spec[i])) && spec[i] != ',' && spec[i] != '-')
      fail(std::string("unexpected '") + spec[i] + "' after layer '" + out.back().text + "'");
  }
  if (out.empty()) throw Error("architecture spec is empty");
  return out;
}

std::string spec_number(double v) {
  char buf[64];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {  // whole numbers without exponent: 180, not 1.8e+02
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string spec_number(float v) { return shortest_text(v); }

}  // namespace mnistcnn::nn
