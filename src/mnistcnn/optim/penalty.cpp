// L1/L2 penalties: the value and gradient loops (double sums: the value is reported) and
// the flag text → (layer group, coefficient) parsing.
#include "mnistcnn/optim/penalty.h"

#include <cmath>
#include <cstdlib>
#include <tuple>

#include "mnistcnn/core/error.h"
#include "mnistcnn/nn/select.h"

namespace mnistcnn::optim {

void Penalty::set(nn::Param* param, double l1, double l2) {
  if (!(std::isfinite(l1) && l1 >= 0 && std::isfinite(l2) && l2 >= 0))
    throw Error("penalty on " + param->name + ": l1 and l2 must be finite and >= 0");
  for (PenaltyTerm& t : terms_)
    if (t.param == param) {
      t.l1 = l1, t.l2 = l2;
      return;
    }
  terms_.push_back({param, l1, l2});
}

double Penalty::value() const {
  double total = 0;
  for (const PenaltyTerm& t : terms_) {
    if (!t.param->learnable()) continue;
    const float* w = t.param->value.data();
    double abs_sum = 0, sq_sum = 0;
    for (int64_t i = 0; i < t.param->value.numel(); ++i) {
      abs_sum += std::fabs(static_cast<double>(w[i]));
      sq_sum += static_cast<double>(w[i]) * w[i];
    }
    total += t.l1 * abs_sum + t.l2 * sq_sum;
  }
  return total;
}

void Penalty::add_gradient() const {
  for (const PenaltyTerm& t : terms_) {
    if (!t.param->learnable()) continue;
    const float* w = t.param->value.data();
    float* g = t.param->grad.data();
    const auto l1 = static_cast<float>(t.l1), two_l2 = static_cast<float>(2 * t.l2);
    for (int64_t i = 0; i < t.param->value.numel(); ++i) {
      const float sign = w[i] > 0 ? 1.0f : w[i] < 0 ? -1.0f : 0.0f;
      g[i] += l1 * sign + two_l2 * w[i];
    }
  }
}

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

double parse_coefficient(const std::string& text, const std::string& flag, const std::string& part) {
  char* stop = nullptr;
  const double v = std::strtod(text.c_str(), &stop);
  if (text.empty() || *stop != '\0' || !std::isfinite(v) || v < 0 || v > 1e3)
    throw Error(flag + " '" + part + "': the coefficient must be a number in [0, 1000]",
                flag + " 1e-4 (every conv and dense weight) or " + flag + " \"features=1e-4;head=1e-3\"");
  return v;
}

bool is_weight(const nn::Param* p) { return !p->buffer && p->value.shape().rank() >= 2; }

}  // namespace

std::vector<PenaltyPart> parse_penalty(const std::string& text, const std::string& flag) {
  std::vector<PenaltyPart> parts;
  if (trim(text).empty()) return parts;
  if (text.find('=') == std::string::npos) {
    parts.push_back({"", parse_coefficient(trim(text), flag, text)});
    return parts;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    const std::string part = trim(text.substr(start, end - start));
    start = end + 1;
    if (part.empty()) {
      if (end == text.size()) break;  // a trailing ';'
      throw Error(flag + " '" + text + "': an empty part between ';'", "GROUP=VALUE;GROUP=VALUE");
    }
    const auto eq = part.rfind('=');
    if (eq == std::string::npos || trim(part.substr(0, eq)).empty())
      throw Error(flag + " '" + part + "': expected GROUP=VALUE (e.g. conv=1e-4)", "groups: " + nn::selector_help());
    parts.push_back({trim(part.substr(0, eq)), parse_coefficient(trim(part.substr(eq + 1)), flag, part)});
  }
  return parts;
}

Penalty make_penalty(nn::Sequential& net, const std::string& l1, const std::string& l2) {
  Penalty pen;
  // Coefficients per weight, set in flag order so that later parts win.
  std::vector<std::pair<nn::Param*, std::pair<double, double>>> coef;
  auto find = [&](nn::Param* p) -> std::pair<double, double>& {
    for (auto& [q, c] : coef)
      if (q == p) return c;
    coef.push_back({p, {0.0, 0.0}});
    return coef.back().second;
  };
  for (const auto& [flag, text, is_l1] : {std::tuple{"--l1", l1, true}, std::tuple{"--l2", l2, false}}) {
    for (const PenaltyPart& part : parse_penalty(text, flag)) {
      std::vector<nn::Param*> chosen;
      if (part.group.empty()) {
        for (nn::Param* p : net.params())
          if (is_weight(p)) chosen.push_back(p);
      } else {
        std::vector<size_t> layers;
        try {
          layers = nn::select_layers(net, part.group);
        } catch (const Error& e) {
          throw Error(std::string(flag) + ": " + e.what());
        }
        for (size_t i : layers)
          for (nn::Param* p : net.layer(i).params())
            if (is_weight(p)) chosen.push_back(p);
        if (chosen.empty())
          throw Error(std::string(flag) + " '" + part.group + "': the group has no conv or dense weights",
                      "penalties apply to conv and dense weights only, never to biases or batch norm");
      }
      for (nn::Param* p : chosen) (is_l1 ? find(p).first : find(p).second) = part.value;
    }
  }
  for (auto& [p, c] : coef)
    if (c.first > 0 || c.second > 0) pen.set(p, c.first, c.second);
  return pen;
}

}  // namespace mnistcnn::optim
