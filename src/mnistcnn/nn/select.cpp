#include "mnistcnn/nn/select.h"

#include <algorithm>
#include <set>

#include "mnistcnn/core/error.h"
#include "mnistcnn/nn/registry.h"

namespace mnistcnn::nn {

namespace {

bool has_params(const Sequential& net, size_t i) {
  return !const_cast<Layer&>(net.layer(i)).params().empty();
}

bool parse_index(const std::string& s, size_t& out) {
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoul(s);
  return true;
}

// The registry's canonical kind for a name or alias ("linear" -> "dense"); empty if none.
std::string canonical_kind(const std::string& name) {
  for (const auto& k : layer_kinds()) {
    if (k.kind == name) return k.kind;
    for (const auto& a : k.aliases)
      if (a == name) return k.kind;
  }
  return {};
}

}  // namespace

std::string selector_help() {
  return "layer indices as in `arch show` (3, 0-5, 6-), layer kinds (conv, dense, ...), features, head, "
         "all-but-last, all; join with commas";
}

size_t head_start(const Sequential& net) {
  for (size_t i = net.size(); i-- > 0;)
    if (net.layer(i).kind() == "dense") return i;
  throw Error("the network has no dense layer to serve as its head");
}

std::vector<size_t> select_layers(const Sequential& net, const std::string& text) {
  std::set<size_t> out;
  const size_t n = net.size();
  size_t start = 0;
  if (text.empty()) throw Error("empty layer selection", selector_help());
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string part = text.substr(start, comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    start = comma + 1;
    const size_t before = out.size();
    size_t a = 0, b = 0;
    const auto dash = part.find('-');
    if (part.empty()) {
      throw Error("layer selection '" + text + "': empty part", selector_help());
    } else if (parse_index(part, a)) {
      if (a >= n) throw Error("layer selection '" + text + "': layer " + part + " does not exist (the network has " + std::to_string(n) + " layers, 0-" + std::to_string(n - 1) + ")");
      out.insert(a);
    } else if (part != "-" && dash != std::string::npos && (dash == 0 || parse_index(part.substr(0, dash), a)) &&
               (dash + 1 == part.size() || parse_index(part.substr(dash + 1), b))) {
      if (dash == 0) a = 0;
      if (dash + 1 == part.size()) b = n - 1;
      if (a > b || b >= n)
        throw Error("layer selection '" + text + "': range " + part + " is not within 0-" + std::to_string(n - 1));
      for (size_t i = a; i <= b; ++i) out.insert(i);
    } else if (part == "all") {
      for (size_t i = 0; i < n; ++i) out.insert(i);
    } else if (part == "features") {
      for (size_t i = 0; i < n && net.layer(i).kind() != "dense"; ++i) out.insert(i);
    } else if (part == "head") {
      for (size_t i = head_start(net); i < n; ++i) out.insert(i);
    } else if (part == "all-but-last") {
      size_t last = n;
      for (size_t i = n; i-- > 0 && last == n;)
        if (has_params(net, i)) last = i;
      for (size_t i = 0; i < last && last != n; ++i) out.insert(i);
    } else if (const std::string kind = canonical_kind(part); !kind.empty()) {
      for (size_t i = 0; i < n; ++i)
        if (net.layer(i).kind() == kind) out.insert(i);
    } else {
      throw Error("layer selection '" + text + "': unknown part '" + part + "'", selector_help());
    }
    if (out.size() == before && !part.empty() && part != "all-but-last" && part != "features")
      throw Error("layer selection '" + text + "': '" + part + "' matches no layer of " + net.spec());
  }
  return {out.begin(), out.end()};
}

void set_trainable(Sequential& net, const std::vector<size_t>& layers, bool trainable) {
  for (size_t i : layers)
    for (Param* p : net.layer(i).params()) p->trainable = trainable;
}

}  // namespace mnistcnn::nn
