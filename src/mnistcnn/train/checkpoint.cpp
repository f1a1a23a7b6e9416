#include "mnistcnn/train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "mnistcnn/core/error.h"
#include "mnistcnn/io/safetensors.h"

namespace mnistcnn::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json epoch_json(const EpochResult& r) {
  return {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
          {"has_val", r.has_val}, {"val_loss", r.val_loss}, {"val_accuracy", r.val_accuracy},
          {"epoch_seconds", r.epoch_seconds}, {"eval_seconds", r.eval_seconds}, {"steps", r.steps},
          {"skipped", r.skipped}, {"lr", r.lr}};
}

EpochResult epoch_from_json(const json& j) {
  EpochResult r;
  r.epoch = j.at("epoch").get<int>();
  r.train_loss = j.at("train_loss").get<double>();
  r.train_accuracy = j.at("train_accuracy").get<double>();
  r.has_val = j.at("has_val").get<bool>();
  r.val_loss = j.at("val_loss").get<double>();
  r.val_accuracy = j.at("val_accuracy").get<double>();
  r.epoch_seconds = j.at("epoch_seconds").get<double>();
  r.eval_seconds = j.at("eval_seconds").get<double>();
  r.steps = j.at("steps").get<int64_t>();
  r.skipped = j.at("skipped").get<int64_t>();
  r.lr = j.at("lr").get<double>();
  return r;
}

// Bit-exact doubles: JSON numbers would round-trip too, but hex says so plainly.
std::string hex_double(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

double double_from_hex(const std::string& s) {
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error("malformed number '" + s + "'");
  const uint64_t bits = std::stoull(s, nullptr, 16);
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

std::string u64_hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t u64_from_hex(const std::string& s) {
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error("malformed random state '" + s + "'");
  return std::stoull(s, nullptr, 16);
}

}  // namespace

void save_checkpoint(const std::string& path, nn::Sequential& net, optim::Optimizer& opt,
                     const optim::Schedule* schedule, const TrainState& state, const io::ModelInfo& info,
                     const std::map<std::string, std::string>& run) {
  io::TensorRefs refs;
  for (nn::Param* p : net.params()) refs.emplace_back(p->name, &p->value);
  for (const auto& [key, t] : opt.state()) refs.emplace_back(io::kOptimizerPrefix + key, &t);
  if (state.held) {
    for (const auto& [name, t] : state.held->ema) refs.emplace_back(kEmaPrefix + name, &t);
    for (const auto& [name, t] : state.held->best) refs.emplace_back(kBestPrefix + name, &t);
  }
  auto meta = io::model_metadata(net, info);
  json history = json::array();
  for (const auto& r : state.history) history.push_back(epoch_json(r));
  json rngs = json::object();
  for (size_t i = 0; i < net.size(); ++i)
    if (Rng* rng = net.layer(i).rng()) {
      json words = json::array();
      for (uint64_t w : rng->state()) words.push_back(u64_hex(w));
      rngs[std::to_string(i)] = words;
    }
  json sched = json::object();
  if (schedule)
    for (const auto& [k, v] : schedule->state()) sched[k] = hex_double(v);
  json c = {{"format_version", kCheckpointFormatVersion},
            {"epoch", state.epoch},
            {"batch", state.batch},
            {"loss_sum", hex_double(state.loss_sum)},
            {"correct", state.correct},
            {"seen", state.seen},
            {"skipped", state.skipped},
            {"seconds", state.seconds},
            {"history", history},
            {"optimizer", opt.name()},
            {"optimizer_steps", opt.steps()},
            {"lr", hex_double(opt.lr())},
            {"param_steps", opt.param_steps()},
            {"schedule", sched},
            {"rng", rngs},
            {"run", run}};
  meta["checkpoint"] = c.dump();
  io::write_safetensors(path, refs, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  io::SafetensorsFile file = io::read_safetensors(path);
  auto it = file.metadata.find("checkpoint");
  if (it == file.metadata.end())
    throw Error(path + ": not a checkpoint (no training state in it)",
                "it is a model file: use `mnistcnn finetune --from " + path + "` to train it further");
  Checkpoint ck;
  ck.info = io::read_model_info(file.metadata, path);
  if (ck.info.arch.empty()) throw Error(path + ": checkpoint without an architecture ('arch')");
  try {
    const json c = json::parse(it->second);
    if (c.at("format_version").get<int>() != kCheckpointFormatVersion)
      throw Error("checkpoint format version " + c.at("format_version").dump() + " is not supported");
    ck.state.epoch = c.at("epoch").get<int>();
    ck.state.batch = c.at("batch").get<int64_t>();
    ck.state.loss_sum = double_from_hex(c.at("loss_sum").get<std::string>());
    ck.state.correct = c.at("correct").get<int64_t>();
    ck.state.seen = c.at("seen").get<int64_t>();
    ck.state.skipped = c.at("skipped").get<int64_t>();
    ck.state.seconds = c.at("seconds").get<double>();
    if (ck.state.epoch < 0 || ck.state.batch < 0 || ck.state.seen < 0 || ck.state.correct < 0 ||
        ck.state.correct > ck.state.seen)
      throw Error("training position out of range");
    for (const auto& r : c.at("history")) ck.state.history.push_back(epoch_from_json(r));
    ck.optimizer = c.at("optimizer").get<std::string>();
    ck.optimizer_steps = c.at("optimizer_steps").get<int64_t>();
    if (ck.optimizer_steps < 0) throw Error("negative optimizer step count");
    ck.param_steps = c.at("param_steps").get<std::map<std::string, int64_t>>();
    ck.schedule_state["lr"] = double_from_hex(c.at("lr").get<std::string>());
    for (auto& [k, v] : c.at("schedule").items()) ck.schedule_state[k] = double_from_hex(v.get<std::string>());
    ck.run = c.at("run").get<std::map<std::string, std::string>>();
    for (auto& [layer, words] : c.at("rng").items()) {
      if (!words.is_array() || words.size() != 4) throw Error("random state of layer " + layer + " needs 4 words");
      if (layer.empty() || layer.size() > 6 || layer.find_first_not_of("0123456789") != std::string::npos)
        throw Error("random state for a layer named '" + layer + "'");
      Rng::State st{};
      for (size_t w = 0; w < 4; ++w) st[w] = u64_from_hex(words[w].get<std::string>());
      ck.layer_rngs[std::stoul(layer)] = st;
    }
  } catch (const json::exception& e) {
    throw Error(path + ": malformed checkpoint metadata: " + e.what());
  } catch (const Error& e) {
    throw Error(path + ": malformed checkpoint metadata: " + e.what());
  }
  try {
    ck.net = nn::Sequential::from_spec(ck.info.arch, ck.info.input);
  } catch (const Error& e) {
    throw Error(path + ": stored architecture does not build: " + e.what());
  }
  io::load_weights(file, path, ck.net);
  const std::string prefix = io::kOptimizerPrefix;
  std::map<std::string, const Tensor*> net_params;
  for (const nn::Param* p : ck.net.params()) net_params[p->name] = &p->value;
  auto held = std::make_shared<HeldWeights>();
  // EMA and best weights: per parameter, shaped as it, all or none.
  auto take = [&](const std::string& name, Tensor& t, const std::string& pre, NamedWeights& into) {
    if (name.compare(0, pre.size(), pre) != 0) return false;
    const auto p = net_params.find(name.substr(pre.size()));
    if (p == net_params.end()) throw Error(path + ": tensor '" + name + "' belongs to no parameter of the network");
    if (p->second->shape() != t.shape())
      throw Error(path + ": tensor '" + name + "' has shape " + t.shape().str() + ", the parameter " +
                  p->second->shape().str());
    into[p->first] = std::move(t);
    return true;
  };
  for (auto& [name, t] : file.tensors) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    if (take(name, t, kEmaPrefix, held->ema) || take(name, t, kBestPrefix, held->best)) continue;
    ck.optimizer_state[name.substr(prefix.size())] = std::move(t);
  }
  for (const NamedWeights* w : {&held->ema, &held->best})
    if (!w->empty() && w->size() != net_params.size())
      throw Error(path + ": the EMA or best weights do not cover every parameter of the network");
  if (!held->ema.empty() || !held->best.empty()) ck.state.held = std::move(held);
  return ck;
}

void restore_training(const Checkpoint& ck, nn::Sequential& net, optim::Optimizer& opt, optim::Schedule* schedule,
                      const std::string& path) {
  if (opt.name() != ck.optimizer)
    throw Error(path + ": the checkpoint was trained with " + ck.optimizer + ", this run uses " + opt.name(),
                "resume with the same --optimizer as the original run");
  std::map<std::string, const nn::Param*> by_name;
  for (const nn::Param* p : net.params()) by_name[p->name] = p;
  for (const auto& [key, t] : ck.optimizer_state) {
    const auto slash = key.rfind('/');
    const auto p = by_name.find(key.substr(0, slash == std::string::npos ? 0 : slash));
    if (slash == std::string::npos || p == by_name.end())
      throw Error(path + ": optimizer state '" + key + "' belongs to no parameter of the network");
    if (t.shape() != p->second->value.shape())
      throw Error(path + ": optimizer state '" + key + "' has shape " + t.shape().str() + ", the parameter " +
                  p->second->value.shape().str());
  }
  for (const auto& [name, steps] : ck.param_steps)
    if (!by_name.count(name) || steps < 0)
      throw Error(path + ": step count for '" + name + "' belongs to no parameter of the network");
  opt.state() = ck.optimizer_state;
  opt.param_steps() = ck.param_steps;
  opt.set_steps(ck.optimizer_steps);
  opt.set_lr(ck.schedule_state.at("lr"));
  if (schedule) {
    auto s = ck.schedule_state;
    s.erase("lr");
    if (!s.empty()) schedule->set_state(s);
  }
  for (const auto& [i, st] : ck.layer_rngs) {
    Rng* rng = i < net.size() ? net.layer(i).rng() : nullptr;
    if (!rng) throw Error(path + ": random state for layer " + std::to_string(i) + ", which has no random stream");
    rng->set_state(st);
  }
}

CheckpointDir::CheckpointDir(std::string dir, int keep_last) : dir_(std::move(dir)), keep_last_(keep_last) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error(dir_ + ": cannot create the checkpoint directory: " + ec.message());
  if (!fs::is_directory(dir_)) throw Error(dir_ + ": not a directory");
  // Temporaries of writes that a kill interrupted.
  for (const auto& e : fs::directory_iterator(dir_, ec))
    if (e.path().filename().string().find(".safetensors.tmp.") != std::string::npos) fs::remove(e.path(), ec);
}

namespace {

struct Entry {
  std::string path;
  int64_t step;
};

// ckpt-eEEEE-sSSSSSSSS.safetensors, ordered by step.
std::vector<Entry> list_checkpoints(const std::string& dir) {
  std::vector<Entry> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    int epoch = 0;
    long long step = 0;
    char tail[32] = {};
    if (std::sscanf(name.c_str(), "ckpt-e%d-s%lld.%31s", &epoch, &step, tail) == 3 && std::string(tail) == "safetensors")
      out.push_back({e.path().string(), step});
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.step < b.step; });
  return out;
}

}  // namespace

std::string CheckpointDir::write(nn::Sequential& net, optim::Optimizer& opt, const optim::Schedule* schedule,
                                 const TrainState& state, const io::ModelInfo& info,
                                 const std::map<std::string, std::string>& run) {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-e%04d-s%08lld.safetensors", state.epoch,
                static_cast<long long>(opt.steps()));
  const std::string path = (fs::path(dir_) / name).string();
  save_checkpoint(path, net, opt, schedule, state, info, run);
  auto all = list_checkpoints(dir_);
  std::error_code ec;
  for (size_t i = 0; keep_last_ > 0 && i + static_cast<size_t>(keep_last_) < all.size(); ++i)
    fs::remove(all[i].path, ec);
  return path;
}

bool CheckpointDir::write_best_if_improved(nn::Sequential& net, optim::Optimizer& opt,
                                           const optim::Schedule* schedule, const TrainState& state,
                                           const io::ModelInfo& info, const std::map<std::string, std::string>& run) {
  if (state.history.empty()) return false;
  // Higher is better: validation accuracy (ties: lower validation loss), else −training loss.
  auto score = [](const EpochResult& r) {
    return r.has_val ? std::pair{r.val_accuracy, -r.val_loss} : std::pair{-r.train_loss, 0.0};
  };
  const EpochResult& last = state.history.back();
  for (size_t i = 0; i + 1 < state.history.size(); ++i)
    if (score(state.history[i]) >= score(last)) return false;
  save_checkpoint((fs::path(dir_) / "best.safetensors").string(), net, opt, schedule, state, info, run);
  return true;
}

std::string latest_checkpoint(const std::string& dir) {
  auto all = list_checkpoints(dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      load_checkpoint(it->path);
      return it->path;
    } catch (const Error&) {
    }
  }
  return {};
}

}  // namespace mnistcnn::train
