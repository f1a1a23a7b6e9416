#include "mnistcnn/io/model_file.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/safetensors.h"

namespace mnistcnn::io {

using nlohmann::json;

void save_model(const std::string& path, nn::Sequential& net, const ModelInfo& info) {
  TensorRefs refs;
  for (nn::Param* p : net.params()) refs.emplace_back(p->name, &p->value);
  std::map<std::string, std::string> meta;
  meta["format"] = "mnistcnn";
  meta["format_version"] = std::to_string(kModelFormatVersion);
  meta["arch"] = net.spec();
  const Shape& in = net.input_shape();
  meta["input_shape"] = json::array({in[0], in[1], in[2]}).dump();
  meta["normalization"] = json{{"mean", info.normalization.mean}, {"std", info.normalization.std}}.dump();
  if (!info.classes.empty()) meta["classes"] = json(info.classes).dump();
  if (!info.provenance.empty()) meta["provenance"] = json(info.provenance).dump();
  write_safetensors(path, refs, meta);
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

}  // namespace

LoadedModel load_model(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  const auto& meta = file.metadata;
  auto arch_it = meta.find("arch");
  if (arch_it == meta.end())
    throw Error(path + ": no architecture in the metadata ('arch')",
                "is this an mnistcnn model file? PyTorch state_dicts need --arch to load");
  if (auto v = meta.find("format_version"); v != meta.end() && v->second != std::to_string(kModelFormatVersion))
    throw Error(path + ": model format version " + v->second + " is not supported (this build reads " +
                std::to_string(kModelFormatVersion) + ")");
  LoadedModel m;
  m.info.arch = arch_it->second;
  try {
    if (json in = parse_meta_json(path, meta, "input_shape"); !in.is_null()) {
      if (!in.is_array() || in.size() != 3) throw Error("input_shape must be [C, H, W]");
      for (int i = 0; i < 3; ++i) {
        const int64_t d = in[static_cast<size_t>(i)].get<int64_t>();
        if (d < 1 || d > 4096) throw Error("input_shape dimension out of range");
        m.info.input[i] = d;
      }
    }
    if (json norm = parse_meta_json(path, meta, "normalization"); !norm.is_null()) {
      m.info.normalization.mean = norm.at("mean").get<float>();
      m.info.normalization.std = norm.at("std").get<float>();
      if (!(m.info.normalization.std > 0.0f)) throw Error("normalization std must be > 0");
    }
    if (json cls = parse_meta_json(path, meta, "classes"); !cls.is_null())
      m.info.classes = cls.get<std::vector<std::string>>();
    if (json prov = parse_meta_json(path, meta, "provenance"); !prov.is_null())
      for (auto& [k, v] : prov.items()) m.info.provenance[k] = v.is_string() ? v.get<std::string>() : v.dump();
  } catch (const json::exception& e) {
    throw Error(path + ": malformed metadata: " + e.what());
  } catch (const Error& e) {
    throw Error(path + ": malformed metadata: " + e.what());
  }
  try {
    m.net = nn::Sequential::from_spec(m.info.arch, m.info.input);
  } catch (const Error& e) {
    throw Error(path + ": stored architecture does not build: " + e.what());
  }
  size_t used = 0;
  for (nn::Param* p : m.net.params()) {
    const Tensor* t = file.find(p->name);
    if (!t)
      throw Error(path + ": tensor '" + p->name + "' of the architecture is missing from the file");
    if (t->shape() != p->value.shape())
      throw Error(path + ": tensor '" + p->name + "' has shape " + t->shape().str() + ", the architecture needs " +
                  p->value.shape().str());
    std::memcpy(p->value.data(), t->data(), sizeof(float) * t->numel());
    ++used;
  }
  if (used != file.tensors.size()) {
    for (const auto& [name, t] : file.tensors) {
      bool known = false;
      for (nn::Param* p : m.net.params()) known = known || p->name == name;
      if (!known) throw Error(path + ": tensor '" + name + "' is not part of the stored architecture");
    }
  }
  const int64_t classes = m.net.shapes(1).back()[1];
  if (!m.info.classes.empty() && static_cast<int64_t>(m.info.classes.size()) != classes)
    throw Error(path + ": " + std::to_string(m.info.classes.size()) + " class names for " +
                std::to_string(classes) + " outputs");
  return m;
}

std::vector<std::string> class_names(const ModelInfo& info, int64_t classes) {
  if (!info.classes.empty()) return info.classes;
  std::vector<std::string> out;
  for (int64_t i = 0; i < classes; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace mnistcnn::io
