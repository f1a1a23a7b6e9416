// mnistcnn import: a PyTorch state_dict saved as safetensors (or any file of named F32/F16/
// BF16/F64 tensors) plus its architecture becomes an mnistcnn model file, so that eval,
// predict, serve and finetune can use it.
#include "commands.h"
#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/normalize.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/io/safetensors.h"

namespace mnistcnn::cli {

namespace {

struct ImportArgs {
  std::string from, arch, rename, normalize = "scale", classes, out;
};

void run_import(const ImportArgs& a) {
  io::SafetensorsFile file = io::read_safetensors(a.from);
  nn::Sequential net = nn::Sequential::from_spec(a.arch);
  // Strict: every parameter must come from the file and every tensor must be used.
  const io::LoadReport report = io::load_weights(file, a.from, net, {.strict = true, .rename = io::parse_renames(a.rename)});
  io::ModelInfo info;
  info.arch = net.spec();
  info.normalization = data::Normalization::parse(a.normalize);
  if (!a.classes.empty()) {
    size_t start = 0;
    while (start <= a.classes.size()) {
      size_t end = a.classes.find(',', start);
      if (end == std::string::npos) end = a.classes.size();
      info.classes.push_back(a.classes.substr(start, end - start));
      start = end + 1;
    }
    const int64_t outputs = net.shapes(1).back()[1];
    if (static_cast<int64_t>(info.classes.size()) != outputs)
      throw Error("--classes names " + std::to_string(info.classes.size()) + " classes, the network has " +
                  std::to_string(outputs) + " outputs");
  }
  info.provenance = {{"imported_from", a.from}};
  for (const auto& [k, v] : file.metadata) info.provenance["source_" + k] = v;
  io::save_model(a.out, net, info);
  for (const auto& name : report.loaded) note("loaded " + name);
  std::printf("imported %zu tensors (%s parameters) into %s\n", report.loaded.size(),
              human_count(net.param_count()).c_str(), a.out.c_str());
}

}  // namespace

void add_import_command(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand("import", "Turn a PyTorch state_dict (safetensors) of a known architecture into a model file");
  cmd->add_option("--from", a->from, "safetensors file of named tensors (PyTorch's state_dict)")->required();
  cmd->add_option("--arch", a->arch, "the network as a spec line; PyTorch's nn.Sequential numbering is ours")->required();
  cmd->add_option("--rename", a->rename, "prefix renames, e.g. \"conv1.=0.,conv2.=3.,fc.=7.\" for named layers");
  cmd->add_option("--normalize", a->normalize, "the input normalisation the network was trained with")->capture_default_str();
  cmd->add_option("--classes", a->classes, "class names, comma-separated (default 0..N-1)");
  cmd->add_option("--out", a->out, "model file to write")->required();
  cmd->callback([a] { run_import(*a); });
}

}  // namespace mnistcnn::cli
