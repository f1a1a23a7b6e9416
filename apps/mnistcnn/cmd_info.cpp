// mnistcnn info: what a model file holds: architecture, parameters, normalisation and
// how it was trained.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/train/checkpoint.h"

namespace mnistcnn::cli {

void add_info_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("info", "Show the architecture, parameter count, normalisation and provenance of a model file");
  cmd->add_option("model", *path, "model file (.safetensors)")->required();
  cmd->add_flag("--json", *as_json, "print one JSON object on stdout");
  cmd->callback([path, as_json] {
    io::LoadedModel m = io::load_model(*path);
    const int64_t params = m.net.param_count();
    // A checkpoint also says where its run stands.
    nlohmann::json ck;
    if (io::read_safetensors(*path).metadata.count("checkpoint")) {
      const train::Checkpoint c = train::load_checkpoint(*path);
      ck = {{"epochs_done", c.state.epoch}, {"batch", c.state.batch}, {"step", c.optimizer_steps},
            {"optimizer", c.optimizer}};
    }
    const auto classes = io::class_names(m.info, m.net.shapes(1).back()[1]);
    const Shape& in = m.info.input;
    nlohmann::json tensors = nlohmann::json::array();
    for (auto* p : m.net.params()) {
      nlohmann::json shape = nlohmann::json::array();
      for (int d = 0; d < p->value.shape().rank(); ++d) shape.push_back(p->value.shape()[d]);
      tensors.push_back({{"name", p->name}, {"shape", shape}});
    }
    if (*as_json) {
      nlohmann::json j = {{"file", *path}, {"arch", m.info.arch}, {"input_shape", {in[0], in[1], in[2]}},
                          {"params", params}, {"normalization", {{"name", m.info.normalization.name()},
                                                                 {"mean", m.info.normalization.mean},
                                                                 {"std", m.info.normalization.std},
                                                                 {"deskew", m.info.normalization.deskew},
                                                                 {"width", m.info.normalization.width}}},
                          {"classes", classes}, {"checkpoint", ck},
                          {"provenance", m.info.provenance}, {"tensors", tensors},
                          {"weights_sha256", io::weights_sha256(m.net)}};
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("file:          %s\n", path->c_str());
    std::printf("architecture:  %s\n", m.info.arch.c_str());
    std::printf("input:         %lldx%lldx%lld\n", static_cast<long long>(in[0]), static_cast<long long>(in[1]),
                static_cast<long long>(in[2]));
    std::printf("parameters:    %s\n", human_count(params).c_str());
    std::printf("normalization: %s (mean %g, std %g)\n", m.info.normalization.name().c_str(), m.info.normalization.mean,
                m.info.normalization.std);
    std::string names;
    for (const auto& c : classes) names += (names.empty() ? "" : ", ") + c;
    std::printf("classes:       %s\n", names.c_str());
    if (!ck.is_null())
      std::printf("checkpoint:    %d epochs done, then %lld batches (step %lld, %s)\n", ck["epochs_done"].get<int>(),
                  ck["batch"].get<long long>(), ck["step"].get<long long>(), ck["optimizer"].get<std::string>().c_str());
    std::printf("weights:       sha256 %s\n", io::weights_sha256(m.net).c_str());
    std::printf("tensors:      ");
    for (auto* p : m.net.params()) std::printf(" %s%s", p->name.c_str(), p->value.shape().str().c_str());
    std::printf("\n");
    if (!m.info.provenance.empty()) {
      std::printf("provenance:\n");
      for (const auto& [k, v] : m.info.provenance) std::printf("  %-16s %s\n", k.c_str(), v.c_str());
    }
  });
}

}  // namespace mnistcnn::cli
