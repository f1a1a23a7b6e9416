// Class selection, few-shot subsets, relabelling by name, stratified splits and
// fingerprints. Every choice that involves chance goes through data::permutation.
#include "mnistcnn/data/subset.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/data/sha256.h"

namespace mnistcnn::data {

namespace {

constexpr int kMaxClassNumber = 65535;
constexpr uint64_t kPerClassStream = 0xFE35C1A5ULL;
constexpr uint64_t kStratifiedStream = 0x57A7ULL;

std::string list_names(const std::vector<std::string>& names, size_t max = 20) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

// A decimal integer of at most 9 digits, else -1.
int integer_name(const std::string& s) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoi(s);
}

// Labels within the classes and images matching the labels, so indexing below is safe.
void check_consistent(const Dataset& ds) {
  if (ds.num_classes < 1 || ds.num_classes > 256)
    throw Error(ds.source + ": " + std::to_string(ds.num_classes) + " classes; 1 to 256 are supported");
  if (ds.rows < 1 || ds.cols < 1 || ds.images.size() != static_cast<size_t>(ds.size() * ds.rows * ds.cols))
    throw Error(ds.source + ": " + std::to_string(ds.images.size()) + " pixel bytes for " + std::to_string(ds.size()) +
                " images of " + std::to_string(ds.rows) + "x" + std::to_string(ds.cols));
  for (uint8_t l : ds.labels)
    if (l >= ds.num_classes) throw Error(ds.source + ": label " + std::to_string(l) + " outside the dataset's classes");
}

}  // namespace

std::vector<int> parse_class_list(const std::string& text, const std::string& flag) {
  const std::string where = (flag.empty() ? "'" : flag + " '") + text + "'";
  const std::string hint = "give class numbers and ranges, e.g. 0-4 or 5,7,9 or 0-2,7";
  auto number = [&](std::string s) {
    const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
    if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw Error(where + ": '" + s + "' is not a class number", hint);
    const int v = std::stoi(s);
    if (v > kMaxClassNumber) throw Error(where + ": class " + s + " is out of range [0, 65535]", hint);
    return v;
  };
  std::vector<int> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(number(item));
    } else {
      const int lo = number(item.substr(0, dash)), hi = number(item.substr(dash + 1));
      if (hi < lo) throw Error(where + ": range '" + item + "' runs backwards", hint);
      for (int v = lo; v <= hi; ++v) out.push_back(v);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int> resolve_classes(const Dataset& ds, const std::vector<int>& numbers) {
  const auto names = effective_class_names(ds);
  const bool by_name =
      std::all_of(names.begin(), names.end(), [](const std::string& n) { return integer_name(n) >= 0; });
  std::vector<int> out, unknown;
  for (int v : numbers) {
    int index = -1;
    if (by_name) {
      for (size_t k = 0; k < names.size() && index < 0; ++k)
        if (integer_name(names[k]) == v) index = static_cast<int>(k);
    } else if (v < ds.num_classes) {
      index = v;
    }
    if (index < 0)
      unknown.push_back(v);
    else
      out.push_back(index);
  }
  if (!unknown.empty()) {
    std::vector<std::string> u, listed;
    for (int v : unknown) u.push_back(std::to_string(v));
    for (size_t k = 0; k < names.size(); ++k) listed.push_back(by_name ? names[k] : std::to_string(k) + " " + names[k]);
    throw Error("class" + std::string(u.size() > 1 ? "es " : " ") + list_names(u) + " not in the data (" +
                ds.source + "); its " + std::to_string(names.size()) + " classes are " + list_names(listed));
  }
  return out;
}

Dataset select_classes(const Dataset& ds, const std::vector<int>& classes) {
  check_consistent(ds);
  const auto names = effective_class_names(ds);
  std::vector<int> new_label(static_cast<size_t>(ds.num_classes), -1);
  if (classes.empty()) throw Error("select_classes: no classes given");
  for (size_t i = 0; i < classes.size(); ++i) {
    const int c = classes[i];
    if (c < 0 || c >= ds.num_classes)
      throw Error("select_classes: class index " + std::to_string(c) + " outside [0, " +
                  std::to_string(ds.num_classes) + ")");
    if (new_label[static_cast<size_t>(c)] >= 0) throw Error("select_classes: class " + names[c] + " given twice");
    new_label[static_cast<size_t>(c)] = static_cast<int>(i);
  }
  const int64_t pixels = ds.rows * ds.cols;
  Dataset out;
  out.rows = ds.rows;
  out.cols = ds.cols;
  out.num_classes = static_cast<int>(classes.size());
  for (int c : classes) out.class_names.push_back(names[static_cast<size_t>(c)]);
  out.source = ds.source;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const int l = new_label[ds.labels[static_cast<size_t>(i)]];
    if (l < 0) continue;
    out.labels.push_back(static_cast<uint8_t>(l));
    out.images.insert(out.images.end(), ds.images.begin() + i * pixels, ds.images.begin() + (i + 1) * pixels);
  }
  return out;
}

PerClassSubset per_class(const Dataset& ds, int64_t n, uint64_t seed) {
  if (n < 1) throw Error("per_class: need at least 1 image per class, got " + std::to_string(n));
  check_consistent(ds);
  const auto order = permutation(ds.size(), seed, kPerClassStream);
  std::vector<int64_t> taken(static_cast<size_t>(ds.num_classes), 0);
  std::vector<int64_t> keep;
  for (int64_t i : order) {
    auto& t = taken[ds.labels[static_cast<size_t>(i)]];
    if (t < n) {
      ++t;
      keep.push_back(i);
    }
  }
  std::sort(keep.begin(), keep.end());
  PerClassSubset out{take(ds, keep), keep, {}};
  for (int c = 0; c < ds.num_classes; ++c)
    if (taken[static_cast<size_t>(c)] < n) out.short_classes.push_back({c, taken[static_cast<size_t>(c)]});
  return out;
}

void align_to_classes(Dataset& ds, const std::vector<std::string>& names) {
  std::map<std::string, int> index;
  for (size_t k = 0; k < names.size(); ++k)
    if (!index.emplace(names[k], static_cast<int>(k)).second) throw Error("class name '" + names[k] + "' given twice");
  if (names.size() > 256) throw Error("at most 256 classes are supported, got " + std::to_string(names.size()));
  check_consistent(ds);
  const auto own = effective_class_names(ds);
  std::vector<int> relabel;
  std::vector<std::string> unknown;
  for (const auto& n : own) {
    auto it = index.find(n);
    relabel.push_back(it == index.end() ? -1 : it->second);
    if (it == index.end()) unknown.push_back(n);
  }
  if (!unknown.empty())
    throw Error("the data (" + ds.source + ") has class" + (unknown.size() > 1 ? "es " : " ") + list_names(unknown) +
                    " that the model does not know; the model's classes are " + list_names(names),
                "keep only the model's classes (--classes), or rename the folders to the model's class names");
  for (auto& l : ds.labels) l = static_cast<uint8_t>(relabel[l]);
  ds.num_classes = static_cast<int>(names.size());
  ds.class_names = names;
}

Dataset take(const Dataset& ds, const std::vector<int64_t>& indices) {
  check_consistent(ds);
  const int64_t pixels = ds.rows * ds.cols;
  Dataset out;
  out.rows = ds.rows;
  out.cols = ds.cols;
  out.num_classes = ds.num_classes;
  out.class_names = ds.class_names;
  out.source = ds.source;
  out.labels.reserve(indices.size());
  out.images.reserve(indices.size() * static_cast<size_t>(pixels));
  for (int64_t i : indices) {
    if (i < 0 || i >= ds.size()) throw Error("take: index " + std::to_string(i) + " outside the dataset");
    out.labels.push_back(ds.labels[static_cast<size_t>(i)]);
    out.images.insert(out.images.end(), ds.images.begin() + i * pixels, ds.images.begin() + (i + 1) * pixels);
  }
  return out;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const Dataset& ds, double fraction,
                                                                       uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0)) throw Error("held-out fraction must be in [0, 1)");
  const auto counts = class_counts(ds);
  std::vector<int64_t> quota(counts.size());
  for (size_t c = 0; c < counts.size(); ++c)
    quota[c] = std::min<int64_t>(std::llround(static_cast<double>(counts[c]) * fraction),
                                 std::max<int64_t>(counts[c] - 1, 0));
  std::vector<char> held(static_cast<size_t>(ds.size()), 0);
  for (int64_t i : permutation(ds.size(), seed, kStratifiedStream)) {
    auto& q = quota[ds.labels[static_cast<size_t>(i)]];
    if (q > 0) {
      --q;
      held[static_cast<size_t>(i)] = 1;
    }
  }
  std::pair<std::vector<int64_t>, std::vector<int64_t>> out;
  for (int64_t i = 0; i < ds.size(); ++i) (held[static_cast<size_t>(i)] ? out.second : out.first).push_back(i);
  return out;
}

std::vector<int64_t> class_counts(const Dataset& ds) {
  check_consistent(ds);
  std::vector<int64_t> counts(static_cast<size_t>(ds.num_classes), 0);
  for (uint8_t l : ds.labels) ++counts[l];
  return counts;
}

std::string fingerprint(const Dataset& ds) {
  std::string head = "mnistcnn-dataset-v1 " + std::to_string(ds.rows) + "x" + std::to_string(ds.cols) + " n=" +
                     std::to_string(ds.size()) + " classes=" + std::to_string(ds.num_classes) + "\n";
  for (const auto& n : effective_class_names(ds)) head += std::to_string(n.size()) + ":" + n + "\n";
  head += sha256_hex(ds.images.data(), ds.images.size()) + "\n";
  head += sha256_hex(ds.labels.data(), ds.labels.size()) + "\n";
  return sha256_hex(reinterpret_cast<const uint8_t*>(head.data()), head.size());
}

}  // namespace mnistcnn::data
