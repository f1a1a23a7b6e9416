// Parsing --grid/--param texts and drawing configurations from them.
#include "mnistcnn/search/space.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "mnistcnn/core/error.h"
#include "mnistcnn/core/rng.h"

namespace mnistcnn::search {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Values split on ',' or, when the text has a '|', on '|' (for values with commas: specs).
std::vector<std::string> split_list(const std::string& text, const std::string& flag, const std::string& whole) {
  std::vector<std::string> out;
  const char sep = text.find('|') != std::string::npos ? '|' : ',';
  size_t start = 0;
  while (true) {
    const size_t end = text.find(sep, start);
    const std::string v = trim(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (v.empty()) throw Error(flag + " '" + whole + "': an empty value in the list", flag + " \"lr=1e-3,3e-3\"");
    out.push_back(v);
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

double parse_number(const std::string& text, const std::string& whole) {
  char* stop = nullptr;
  const std::string t = trim(text);
  const double v = std::strtod(t.c_str(), &stop);
  if (t.empty() || *stop != '\0' || !std::isfinite(v))
    throw Error("--param '" + whole + "': '" + t + "' is not a number");
  return v;
}

// 4 significant digits, unless rounding them leaves [lo, hi] (bounds with more digits).
std::string in_range_text(double v, double lo, double hi) {
  const std::string short_text = format_value(v);
  const double back = std::strtod(short_text.c_str(), nullptr);
  if (back >= lo && back <= hi) return short_text;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", std::min(std::max(v, lo), hi));
  return buf;
}

}  // namespace

std::string check_name(const std::string& name, const std::string& flag) {
  std::string n = trim(name);
  if (n.rfind("--", 0) == 0) n = n.substr(2);
  if (n.empty() || n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos || n[0] == '-')
    throw Error(flag + ": '" + name + "' is not a train flag name", "names are train's flags without dashes: lr, batch-size, l2");
  return n;
}

SearchParam parse_grid(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) throw Error("--grid '" + text + "': expected NAME=V1,V2,...", "--grid \"lr=1e-3,3e-3\"");
  SearchParam p;
  p.name = check_name(text.substr(0, eq), "--grid");
  p.values = split_list(text.substr(eq + 1), "--grid", text);
  return p;
}

SearchParam parse_param(const std::string& text) {
  const auto eq = text.find('=');
  const auto colon = text.find(':', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || colon == std::string::npos)
    throw Error("--param '" + text + "': expected NAME=KIND:..., e.g. lr=log:1e-4:1e-2",
                "kinds: log:LO:HI, uniform:LO:HI, int:LO:HI, choice:V1,V2,...");
  SearchParam p;
  p.name = check_name(text.substr(0, eq), "--param");
  const std::string kind = trim(text.substr(eq + 1, colon - eq - 1)), rest = text.substr(colon + 1);
  if (kind == "choice") {
    p.values = split_list(rest, "--param", text);
    return p;
  }
  const auto colon2 = rest.find(':');
  if (colon2 == std::string::npos || rest.find(':', colon2 + 1) != std::string::npos)
    throw Error("--param '" + text + "': expected " + kind + ":LO:HI");
  p.lo = parse_number(rest.substr(0, colon2), text);
  p.hi = parse_number(rest.substr(colon2 + 1), text);
  if (kind == "log") p.kind = SearchParam::Kind::Log;
  else if (kind == "uniform") p.kind = SearchParam::Kind::Uniform;
  else if (kind == "int") p.kind = SearchParam::Kind::Int;
  else throw Error("--param '" + text + "': unknown distribution '" + kind + "'", "log, uniform, int or choice");
  if (p.lo > p.hi) throw Error("--param '" + text + "': LO is greater than HI");
  if (p.kind == SearchParam::Kind::Log && p.lo <= 0)
    throw Error("--param '" + text + "': a log range needs LO > 0", "e.g. lr=log:1e-4:1e-2");
  if (p.kind == SearchParam::Kind::Int &&
      (p.lo != std::floor(p.lo) || p.hi != std::floor(p.hi) || std::fabs(p.lo) > 1e9 || std::fabs(p.hi) > 1e9))
    throw Error("--param '" + text + "': int bounds must be integers (at most 1e9 in size)");
  return p;
}

std::vector<Config> grid_configs(const std::vector<SearchParam>& params) {
  std::set<std::string> names;
  size_t total = 1;
  for (const SearchParam& p : params) {
    if (!names.insert(p.name).second) throw Error("'" + p.name + "' is searched twice", "give each flag once");
    if (p.kind != SearchParam::Kind::Choice)
      throw Error("--param " + p.name + ": a distribution needs random search", "add --random N, or give a --grid list");
    total *= p.values.size();
    if (total > 100000) throw Error("the grid has more than 100,000 configurations", "use --random N instead");
  }
  std::vector<Config> out(params.empty() ? 0 : 1);
  for (const SearchParam& p : params) {
    std::vector<Config> next;
    for (const Config& c : out)
      for (const std::string& v : p.values) {
        next.push_back(c);
        next.back().emplace_back(p.name, v);
      }
    out = std::move(next);
  }
  return out;
}

std::vector<Config> random_configs(const std::vector<SearchParam>& params, int n, uint64_t seed) {
  std::set<std::string> names;
  for (const SearchParam& p : params)
    if (!names.insert(p.name).second) throw Error("'" + p.name + "' is searched twice", "give each flag once");
  if (n < 1) throw Error("--random needs at least 1 trial");
  Rng rng(seed, 0x5EA4C);
  std::vector<Config> out;
  std::set<std::string> seen;
  for (int64_t tries = 0; static_cast<int>(out.size()) < n && tries < int64_t{100} * n; ++tries) {
    Config c;
    for (const SearchParam& p : params) {
      const double u = static_cast<double>(rng.uniform());
      std::string v;
      switch (p.kind) {
        case SearchParam::Kind::Choice: v = p.values[rng.below(p.values.size())]; break;
        case SearchParam::Kind::Log: v = in_range_text(std::exp(std::log(p.lo) + u * (std::log(p.hi) - std::log(p.lo))), p.lo, p.hi);
          break;
        case SearchParam::Kind::Uniform: v = in_range_text(p.lo + u * (p.hi - p.lo), p.lo, p.hi); break;
        case SearchParam::Kind::Int:
          v = format_value(p.lo + static_cast<double>(rng.below(static_cast<uint64_t>(p.hi - p.lo) + 1)));
          break;
      }
      c.emplace_back(p.name, v);
    }
    if (seen.insert(config_text(c)).second) out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::string> config_args(const Config& c) {
  std::vector<std::string> out;
  for (const auto& [name, value] : c) out.push_back("--" + name + "=" + value);
  return out;
}

std::string config_text(const Config& c) {
  std::string s;
  for (const auto& [name, value] : c) {
    if (!s.empty()) s += ' ';
    s += name + "=" + value;
  }
  return s;
}

std::string format_value(double v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace mnistcnn::search
