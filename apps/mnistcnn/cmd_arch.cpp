// mnistcnn arch show NAME|SPEC: a Keras-style summary (layer, output shape, parameters,
// forward FLOPs); mnistcnn arch list: the presets and the layer kinds.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "mnistcnn/nn/registry.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/train/presets.h"

namespace mnistcnn::cli {

namespace {

std::string resolve_spec(const std::string& name_or_spec) {
  if (const auto* p = train::find_preset(name_or_spec)) return p->spec;
  return name_or_spec;
}

std::string shape_str(const Shape& s) {
  std::string out = "(None";
  for (int i = 1; i < s.rank(); ++i) out += ", " + std::to_string(s[i]);
  return out + ")";
}

void show(const std::string& what, bool as_json) {
  nn::Sequential net = nn::Sequential::from_spec(resolve_spec(what));
  const auto shapes = net.shapes(1);
  Shape in{1, net.input_shape()[0], net.input_shape()[1], net.input_shape()[2]};
  int64_t total_params = 0, total_flops = 0, total_buffers = 0;
  nlohmann::json layers = nlohmann::json::array();
  std::vector<std::array<std::string, 5>> rows;
  for (size_t i = 0; i < net.size(); ++i) {
    nn::Layer& l = net.layer(i);
    int64_t params = 0;
    for (auto* p : l.params()) (p->buffer ? total_buffers : params) += p->value.numel();
    const int64_t flops = l.flops(in);
    total_params += params;
    total_flops += flops;
    rows.push_back({std::to_string(i), l.spec(), shape_str(shapes[i]), human_count(params), human_count(flops)});
    nlohmann::json shape = nlohmann::json::array();
    for (int d = 1; d < shapes[i].rank(); ++d) shape.push_back(shapes[i][d]);
    layers.push_back({{"index", i}, {"spec", l.spec()}, {"output_shape", shape}, {"params", params}, {"flops", flops}});
    in = shapes[i];
  }
  if (as_json) {
    nlohmann::json j = {{"spec", net.spec()}, {"layers", layers}, {"params", total_params},
                        {"buffers", total_buffers}, {"flops", total_flops}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("Model: %s\n", what.c_str());
  std::printf("Input: (None, %lld, %lld, %lld)\n", static_cast<long long>(net.input_shape()[0]),
              static_cast<long long>(net.input_shape()[1]), static_cast<long long>(net.input_shape()[2]));
  const char* sep = "-----------------------------------------------------------------------------";
  std::printf("%s\n%-4s %-26s %-18s %10s %14s\n%s\n", sep, "#", "Layer", "Output shape", "Params", "FLOPs", sep);
  for (const auto& r : rows)
    std::printf("%-4s %-26s %-18s %10s %14s\n", r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str());
  std::printf("%s\n", sep);
  std::printf("Total params: %s (%.1f KB as float32)\n", human_count(total_params).c_str(), total_params * 4 / 1024.0);
  if (total_buffers > 0)
    std::printf("Buffers: %s (batch norm running statistics, saved but not trained)\n",
                human_count(total_buffers).c_str());
  std::printf("Forward FLOPs per image: %s (%.2f MFLOP)\n", human_count(total_flops).c_str(), total_flops / 1e6);
  std::printf("Spec: %s\n", net.spec().c_str());
}

}  // namespace

void add_arch_command(CLI::App& app) {
  auto* arch = app.add_subcommand("arch", "Show architectures: presets or spec lines");
  arch->require_subcommand(1);
  auto* show_cmd = arch->add_subcommand("show", "Summary table of a preset or spec: layers, shapes, parameters, FLOPs");
  auto what = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  show_cmd->add_option("model", *what, "preset name (" + train::preset_names() + ") or a spec line in quotes")->required();
  show_cmd->add_flag("--json", *as_json, "print one JSON object");
  show_cmd->callback([what, as_json] { show(*what, *as_json); });

  auto* list_cmd = arch->add_subcommand("list", "The presets and the layer kinds a spec can use");
  list_cmd->callback([] {
    std::printf("Presets:\n");
    for (const auto& p : train::presets()) std::printf("  %-18s %s\n      %s\n", p.name.c_str(), p.spec.c_str(), p.source.c_str());
    std::printf("\nLayers (spec syntax):\n");
    for (const auto& k : nn::layer_kinds()) {
      std::string aliases;
      for (const auto& a : k.aliases) aliases += (aliases.empty() ? "  also: " : ", ") + a;
      std::printf("  %-62s%s\n", k.usage.c_str(), aliases.c_str());
    }
  });
}

}  // namespace mnistcnn::cli
