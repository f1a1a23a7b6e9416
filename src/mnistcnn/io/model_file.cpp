#include "mnistcnn/io/model_file.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mnistcnn/core/error.h"
#include "mnistcnn/data/sha256.h"
#include "mnistcnn/io/safetensors.h"

namespace mnistcnn::io {

using nlohmann::json;

std::map<std::string, std::string> model_metadata(const nn::Sequential& net, const ModelInfo& info) {
  std::map<std::string, std::string> meta;
  meta["format"] = "mnistcnn";
  meta["format_version"] = std::to_string(kModelFormatVersion);
  meta["arch"] = net.spec();
  const Shape& in = net.input_shape();
  meta["input_shape"] = json::array({in[0], in[1], in[2]}).dump();
  json norm{{"mean", info.normalization.mean}, {"std", info.normalization.std}};
  if (info.normalization.deskew) norm["deskew"] = true;  // absent otherwise: older files stay as they were
  if (info.normalization.width > 0) norm["width"] = info.normalization.width;
  meta["normalization"] = norm.dump();
  if (!info.classes.empty()) meta["classes"] = json(info.classes).dump();
  if (!info.provenance.empty()) meta["provenance"] = json(info.provenance).dump();
  return meta;
}

void save_model(const std::string& path, nn::Sequential& net, const ModelInfo& info) {
  TensorRefs refs;
  for (nn::Param* p : net.params()) refs.emplace_back(p->name, &p->value);
  write_safetensors(path, refs, model_metadata(net, info));
}

namespace {

json parse_meta_json(const std::string& path, const std::map<std::string, std::string>& meta,
                     const std::string& key) {
  auto it = meta.find(key);
  if (it == meta.end()) return json();
  try {
    return json::parse(it->second);
  } catch (const json::exception& e) {
    throw Error(path + ": metadata '" + key + "' is not valid JSON: " + e.what());
  }
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

ModelInfo read_model_info(const std::map<std::string, std::string>& meta, const std::string& path) {
  if (auto v = meta.find("format_version"); v != meta.end() && v->second != std::to_string(kModelFormatVersion))
    throw Error(path + ": model format version " + v->second + " is not supported (this build reads " +
                std::to_string(kModelFormatVersion) + ")");
  ModelInfo info;
  if (auto it = meta.find("arch"); it != meta.end()) info.arch = it->second;
  try {
    if (json in = parse_meta_json(path, meta, "input_shape"); !in.is_null()) {
      if (!in.is_array() || in.size() != 3) throw Error("input_shape must be [C, H, W]");
      for (int i = 0; i < 3; ++i) {
        const int64_t d = in[static_cast<size_t>(i)].get<int64_t>();
        if (d < 1 || d > 4096) throw Error("input_shape dimension out of range");
        info.input[i] = d;
      }
    }
    if (json norm = parse_meta_json(path, meta, "normalization"); !norm.is_null()) {
      if (!norm.is_object()) throw Error("normalization must be a JSON object {mean, std[, deskew][, width]}");
      // A key this build does not know changes what the model expects as input (as deskew
      // did): refuse it rather than feed the model digits it was not trained on.
      for (const auto& [key, value] : norm.items())
        if (key != "mean" && key != "std" && key != "deskew" && key != "width")
          throw Error("normalization has '" + key + "', unknown to this build (written by a newer mnistcnn?)");
      info.normalization.mean = norm.at("mean").get<float>();
      info.normalization.std = norm.at("std").get<float>();
      info.normalization.deskew = norm.value("deskew", false);
      if (norm.contains("width")) {
        const json& w = norm.at("width");
        if (!w.is_number_integer() || w.get<int64_t>() < 1 || w.get<int64_t>() > info.input[2])
          throw Error("normalization width must be a whole number of pixels from 1 to the image width (" +
                      std::to_string(info.input[2]) + "), not " + w.dump());
        info.normalization.width = w.get<int64_t>();
      }
      if (!std::isfinite(info.normalization.mean) || !(info.normalization.std > 0.0f) ||
          !std::isfinite(info.normalization.std))
        throw Error("normalization needs a finite mean and a finite std > 0");
    }
    if (json cls = parse_meta_json(path, meta, "classes"); !cls.is_null())
      info.classes = cls.get<std::vector<std::string>>();
    if (json prov = parse_meta_json(path, meta, "provenance"); !prov.is_null())
      for (auto& [k, v] : prov.items()) info.provenance[k] = v.is_string() ? v.get<std::string>() : v.dump();
  } catch (const json::exception& e) {
    throw Error(path + ": malformed metadata: " + e.what());
  } catch (const Error& e) {
    throw Error(path + ": malformed metadata: " + e.what());
  }
  return info;
}

std::vector<std::pair<std::string, std::string>> parse_renames(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string part = text.substr(start, end - start);
    start = end + 1;
    const auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--rename '" + part + "': expected FROM=TO, a prefix of the file's tensor names and its replacement");
    out.emplace_back(part.substr(0, eq), part.substr(eq + 1));
  }
  return out;
}

LoadReport load_weights(const SafetensorsFile& file, const std::string& path, nn::Sequential& net,
                        const WeightLoadOptions& options) {
  // The file's tensors under the names the network uses.
  std::map<std::string, std::pair<std::string, const Tensor*>> by_name;  // network name -> (file name, tensor)
  for (const auto& [name, t] : file.tensors) {
    if (starts_with(name, kOptimizerPrefix)) continue;
    std::string mapped = name;
    for (const auto& [from, to] : options.rename)
      if (starts_with(name, from)) {
        mapped = to + name.substr(from.size());
        break;
      }
    if (!by_name.emplace(mapped, std::pair{name, &t}).second)
      throw Error(path + ": two tensors of the file are both named '" + mapped + "' after renaming");
  }
  auto shown = [](const std::string& file_name, const std::string& net_name) {
    return file_name == net_name ? net_name : file_name + " as " + net_name;
  };
  LoadReport report;
  std::map<std::string, bool> used;
  for (size_t li = 0; li < net.size(); ++li) {
    for (nn::Param* p : net.layer(li).params()) {
      const auto it = by_name.find(p->name);
      const Tensor* t = it == by_name.end() ? nullptr : it->second.second;
      if (li >= options.keep_from_layer) {
        report.initialised.push_back(p->name);
        if (t) used[p->name] = true, report.skipped.push_back(shown(it->second.first, p->name) + " (replaced layer)");
        continue;
      }
      if (!t) {
        if (options.strict) {
          std::string names;  // what the file does hold, to show how to map it
          for (const auto& [name, entry] : by_name)
            if (names.size() < 80) names += (names.empty() ? "" : ", ") + entry.first;
          throw Error(path + ": tensor '" + p->name + "' of the architecture is missing from the file (it holds " +
                          (names.empty() ? std::string("no tensors") : names) + ")",
                      "map a PyTorch module's layer names with --rename, e.g. conv1.=0.");
        }
        report.initialised.push_back(p->name);
        continue;
      }
      used[p->name] = true;
      if (t->shape() != p->value.shape()) {
        if (options.strict)
          throw Error(path + ": tensor '" + shown(it->second.first, p->name) + "' has shape " + t->shape().str() +
                      ", the architecture needs " + p->value.shape().str());
        report.skipped.push_back(shown(it->second.first, p->name) + " (shape " + t->shape().str() + ", needed " +
                                 p->value.shape().str() + ")");
        report.initialised.push_back(p->name);
        continue;
      }
      std::memcpy(p->value.data(), t->data(), sizeof(float) * static_cast<size_t>(t->numel()));
      report.loaded.push_back(shown(it->second.first, p->name));
    }
  }
  for (const auto& [name, entry] : by_name) {
    if (used.count(name)) continue;
    if (options.strict)
      throw Error(path + ": tensor '" + entry.first + "' is not part of the architecture",
                  options.rename.empty() ? "a PyTorch module with named layers needs --rename, e.g. conv1.=0." : "");
    report.skipped.push_back(entry.first + " (not in the network)");
  }
  return report;
}

LoadedModel load_model(const std::string& path, const std::string& arch,
                       const std::vector<std::pair<std::string, std::string>>& rename) {
  SafetensorsFile file = read_safetensors(path);
  LoadedModel m;
  m.info = read_model_info(file.metadata, path);
  if (!arch.empty()) m.info.arch = arch;
  if (m.info.arch.empty())
    throw Error(path + ": no architecture in the metadata ('arch')",
                "is this a PyTorch state_dict? give its architecture with --arch");
  try {
    m.net = nn::Sequential::from_spec(m.info.arch, m.info.input);
  } catch (const Error& e) {
    throw Error(path + ": " + (arch.empty() ? "stored architecture" : "architecture") + " does not build: " + e.what());
  }
  load_weights(file, path, m.net, {.rename = rename});
  const int64_t classes = m.net.shapes(1).back()[1];
  if (!m.info.classes.empty() && static_cast<int64_t>(m.info.classes.size()) != classes)
    throw Error(path + ": " + std::to_string(m.info.classes.size()) + " class names for " +
                std::to_string(classes) + " outputs");
  return m;
}

std::string weights_sha256(nn::Sequential& net) {
  std::vector<uint8_t> bytes;
  for (nn::Param* p : net.params()) {
    const auto* b = reinterpret_cast<const uint8_t*>(p->value.data());
    bytes.insert(bytes.end(), b, b + sizeof(float) * static_cast<size_t>(p->value.numel()));
  }
  return data::sha256_hex(bytes.data(), bytes.size());
}

std::vector<std::string> class_names(const ModelInfo& info, int64_t classes) {
  if (!info.classes.empty()) return info.classes;
  std::vector<std::string> out;
  for (int64_t i = 0; i < classes; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace mnistcnn::io
