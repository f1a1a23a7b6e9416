// mnistcnn finetune: start from a trained model (or a PyTorch state_dict with --arch),
// optionally replace its head and freeze layers, and train on new data with a smaller
// learning rate, per-group rate multipliers and gradual unfreezing.
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/sha256.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/io/safetensors.h"
#include "mnistcnn/nn/select.h"
#include "mnistcnn/nn/spec.h"
#include "mnistcnn/train/presets.h"
#include "training_run.h"

namespace mnistcnn::cli {

namespace {

struct FinetuneArgs {
  std::string from, arch, rename, new_head, freeze, lr_mult, optimizer, replay = "data/mnist";
  int64_t replay_count = 0;
  int epochs = 3, threads = 0, unfreeze_after = -1;
  bool gradual = false;
  int64_t batch_size = 0;
  double lr = 0, momentum = 0.9, weight_decay = 0;
  uint64_t seed = 1;
  DataFlags data;
  RunFlags run;
  CLI::Option *o_lr, *o_batch, *o_optimizer, *o_momentum;
};

std::string provenance(const io::ModelInfo& info, const std::string& key, const std::string& fallback) {
  const auto it = info.provenance.find(key);
  return it == info.provenance.end() ? fallback : it->second;
}

std::string join_layers(const std::vector<size_t>& layers) {
  std::string s;
  for (size_t i : layers) s += (s.empty() ? "" : ",") + std::to_string(i);
  return s.empty() ? "none" : s;
}

// The network with its head (the last dense layer and what follows) replaced: `head` is
// a class count ("5") or a spec ("dense(64) relu dense(5)"). A trailing softmax stays.
std::string replaced_head_spec(const nn::Sequential& old, const std::string& head, size_t& head_index) {
  head_index = nn::head_start(old);
  std::string spec;
  for (size_t i = 0; i < head_index; ++i) spec += old.layer(i).spec() + " ";
  const bool number = !head.empty() && head.find_first_not_of("0123456789") == std::string::npos;
  if (number) {
    const long n = head.size() <= 6 ? std::stol(head) : 0;
    if (n < 1 || n > 65536) throw Error("--new-head " + head + ": the class count must be in 1..65536");
    spec += "dense(" + head + ")";
  } else {
    spec += head;
  }
  if (old.ends_in_softmax() && nn::parse_spec(head).back().kind != "softmax") spec += " softmax";
  return spec;
}

void run_finetune(FinetuneArgs& a) {
  const int threads = setup_threads(a.threads);
  // The starting point: weights, architecture, normalisation, recipe.
  io::SafetensorsFile file = io::read_safetensors(a.from);
  io::ModelInfo from_info = io::read_model_info(file.metadata, a.from);
  if (!a.arch.empty()) from_info.arch = a.arch;
  if (from_info.arch.empty())
    throw Error(a.from + ": no architecture in the file", "a PyTorch state_dict needs its architecture: --arch \"...\"");
  nn::Sequential old = nn::Sequential::from_spec(from_info.arch, from_info.input);

  size_t keep_from = nn::Sequential::kAll;
  std::string spec = old.spec();
  if (!a.new_head.empty()) spec = replaced_head_spec(old, a.new_head, keep_from);
  nn::Sequential net = nn::Sequential::from_spec(spec, from_info.input);
  net.init(nn::Init::Torch, a.seed);
  const io::LoadReport report =
      io::load_weights(file, a.from, net, {.strict = false, .keep_from_layer = keep_from, .rename = io::parse_renames(a.rename)});
  if (report.loaded.empty())
    throw Error(a.from + ": no tensor of the file fits the network " + net.spec() + " (" +
                    (report.skipped.empty() ? std::string("the file has none") : "skipped: " + report.skipped.front()) + ")",
                "check --arch (the file's tensors are named like '0.weight')");

  train::Recipe recipe;
  recipe.optimizer = a.o_optimizer->count() ? a.optimizer : provenance(from_info, "optimizer", "adam");
  if (recipe.optimizer != "sgd" && recipe.optimizer != "adam" && recipe.optimizer != "adamw") recipe.optimizer = "adam";
  recipe.momentum = recipe.optimizer == "sgd" ? a.momentum : 0.0;
  recipe.weight_decay = a.weight_decay;
  recipe.batch_size = a.o_batch->count() ? a.batch_size : 32;
  double from_lr = 0;
  try {
    from_lr = std::stod(provenance(from_info, "lr", "0"));
  } catch (const std::exception&) {
  }
  // A tenth of the rate the model was trained with: big enough to adapt, small enough
  // not to wreck what the loaded layers know.
  recipe.lr = a.o_lr->count() ? a.lr : (from_lr > 0 && from_lr < 10 ? from_lr / 10 : recipe.optimizer == "sgd" ? 1e-3 : 1e-4);
  recipe.epochs = a.epochs;
  const data::Normalization norm = from_info.normalization;
  const optim::ScheduleOptions sched_opt = optim::parse_schedule(a.run.schedule);
  if (a.run.out.empty()) a.run.out = "models/finetuned.safetensors";

  // Freezing: the layers chosen, minus those gradual unfreezing has released by epoch e.
  const std::vector<size_t> frozen = a.freeze.empty() ? std::vector<size_t>{} : nn::select_layers(net, a.freeze);
  std::vector<size_t> frozen_with_params;
  for (size_t i : frozen)
    if (!net.layer(i).params().empty()) frozen_with_params.push_back(i);
  auto frozen_at = [&](int epoch) {
    if (a.unfreeze_after < 0 || epoch < a.unfreeze_after) return frozen_with_params;
    if (!a.gradual) return std::vector<size_t>{};
    const auto released = static_cast<size_t>(epoch - a.unfreeze_after + 1);  // from the top down
    std::vector<size_t> still = frozen_with_params;
    still.resize(still.size() > released ? still.size() - released : 0);
    return still;
  };
  std::map<std::string, double> mult;
  if (!a.lr_mult.empty()) {
    // "features=0.1,head=1": later parts win where groups overlap.
    std::string text = a.lr_mult;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find(';', start);
      if (end == std::string::npos) end = text.size();
      const std::string part = text.substr(start, end - start);
      start = end + 1;
      const auto eq = part.rfind('=');
      if (eq == std::string::npos) throw Error("--lr-mult '" + part + "': expected LAYERS=FACTOR");
      char* stop = nullptr;
      const std::string factor_text = part.substr(eq + 1);
      const double factor = std::strtod(factor_text.c_str(), &stop);
      if (factor_text.empty() || *stop != '\0' || !(factor >= 0) || factor > 1000)
        throw Error("--lr-mult '" + part + "': the factor must be a number in [0, 1000]");
      for (size_t i : nn::select_layers(net, part.substr(0, eq)))
        for (nn::Param* p : net.layer(i).params()) mult[p->name] = factor;
    }
  }

  // Without a new head the data's classes are matched to the model's by name; with one,
  // the data's classes become the model's.
  const int64_t old_outputs = old.shapes(1)[old.logits_end() - 1][1];
  const std::vector<std::string> old_classes = io::class_names(from_info, old_outputs);
  PreparedData d = prepare_data(a.data, recipe.batch_size, a.seed, norm, a.run.quiet,
                                a.new_head.empty() ? &old_classes : nullptr);
  const int64_t outputs = net.shapes(1)[net.logits_end() - 1][1];
  if (!a.new_head.empty() && outputs != d.num_classes())
    throw Error("the new head has " + std::to_string(outputs) + " outputs but the data has " +
                    std::to_string(d.num_classes()) + " classes",
                "--new-head " + std::to_string(d.num_classes()));
  if (a.replay_count > 0) {
    // Rehearsal: seeded-random images of the original training data mixed in, so that
    // fine-tuning on a few new samples does not forget the rest.
    DataArgs replay_args;
    replay_args.data = a.replay;
    LoadedData replay = load_data(replay_args, a.seed, DataParts::TrainOnly, a.new_head.empty() ? &old_classes : &d.data->class_names);
    auto pick = data::permutation(replay.train.size(), a.seed, 0x4E91A7);
    pick.resize(static_cast<size_t>(std::min<int64_t>(a.replay_count, replay.train.size())));
    data::Dataset& train_set = d.data->train;
    if (replay.train.rows != train_set.rows || replay.train.cols != train_set.cols)
      throw Error(a.replay + ": images of " + std::to_string(replay.train.rows) + "x" + std::to_string(replay.train.cols) +
                  ", the fine-tuning data has " + std::to_string(train_set.rows) + "x" + std::to_string(train_set.cols));
    const auto pixels = static_cast<size_t>(train_set.rows * train_set.cols);
    std::vector<int64_t> train_idx(d.train->indices());
    for (const int64_t i : pick) {
      const uint8_t* img = replay.train.images.data() + static_cast<size_t>(i) * pixels;
      train_set.images.insert(train_set.images.end(), img, img + pixels);
      train_set.labels.push_back(replay.train.labels[static_cast<size_t>(i)]);
      train_idx.push_back(train_set.size() - 1);
    }
    d.train = std::make_unique<data::Loader>(train_set, train_idx, recipe.batch_size, true, a.seed, norm);
    if (!a.run.quiet)
      note("replay: " + human_count(static_cast<int64_t>(pick.size())) + " training images of " + a.replay +
           " mixed in");
  }

  auto opt = train::make_optimizer(recipe, net.params());
  opt->set_lr_multipliers(mult);
  optim::Schedule schedule(sched_opt, recipe.lr, d.train->num_batches(), recipe.epochs);

  TrainingJob job;
  job.run = base_run_record(a.seed, recipe.batch_size, recipe.optimizer, *d.train, recipe.epochs, recipe.lr,
                            a.run.schedule);
  job.run.insert({{"freeze", a.freeze}, {"unfreeze_after", std::to_string(a.unfreeze_after)},
                  {"gradual", a.gradual ? "true" : "false"}, {"lr_mult", a.lr_mult}, {"new_head", a.new_head}});
  std::map<std::string, std::string> regularisation;
  apply_regularisation(a.run, *d.train, job.run, regularisation);
  if (!a.run.resume.empty())
    resume_job(a.run, job, net, opt,
               [&](nn::Sequential& n) {
                 auto o = train::make_optimizer(recipe, n.params());
                 o->set_lr_multipliers(mult);
                 return o;
               },
               schedule, recipe.epochs);
  job.on_epoch_start = [&](const train::TrainState& s) {
    nn::set_trainable(net, select_layers(net, "all"), true);
    const auto still = frozen_at(s.epoch);
    nn::set_trainable(net, still, false);
    if (!a.run.quiet && a.unfreeze_after >= 0 && s.epoch >= a.unfreeze_after && s.batch == 0)
      note("epoch " + std::to_string(s.epoch + 1) + ": frozen layers " + join_layers(still));
  };

  if (!a.run.quiet) {
    note("fine-tuning " + a.from + " (" + human_count(old.param_count()) + " parameters)");
    note("network: " + net.spec());
    note("loaded " + std::to_string(report.loaded.size()) + " tensors; newly initialised: " +
         std::to_string(report.initialised.size()) + "; skipped: " + std::to_string(report.skipped.size()));
    for (const auto& s : report.skipped) note("  skipped " + s);
    for (const auto& s : report.initialised) note("  initialised " + s);
    note("frozen layers: " + join_layers(frozen_with_params) +
         (a.unfreeze_after >= 0 ? std::string(", unfrozen ") + (a.gradual ? "one per epoch " : "") + "from epoch " +
                                      std::to_string(a.unfreeze_after + 1)
                                : ""));
    note("recipe: " + recipe.optimizer + " lr " + fmt("%g", recipe.lr) + (mult.empty() ? "" : " (multipliers " + a.lr_mult + ")") +
         ", schedule " + schedule.describe() + ", batch " + std::to_string(recipe.batch_size) + ", " +
         std::to_string(recipe.epochs) + " epochs, seed " + std::to_string(a.seed) + ", " + std::to_string(threads) +
         " threads");
    note("training on " + human_count(d.train->size()) + " images; validation: " + d.val_name);
  }

  job.net = &net;
  job.opt = opt.get();
  job.schedule = &schedule;
  job.train = d.train.get();
  job.val = d.val.get();
  job.test = d.test.get();
  job.epochs = recipe.epochs;
  job.info.normalization = norm;
  job.info.classes = d.data->class_names;
  job.info.provenance = {{"finetuned_from", a.from}, {"from_sha256", data::sha256_file_hex(a.from)},
                         {"optimizer", recipe.optimizer}, {"lr", fmt("%g", recipe.lr)},
                         {"schedule", a.run.schedule}, {"freeze", a.freeze}, {"new_head", a.new_head},
                         {"batch_size", std::to_string(recipe.batch_size)}, {"epochs", std::to_string(recipe.epochs)},
                         {"seed", std::to_string(a.seed)}, {"train_images", std::to_string(d.train->size())},
                         {"data", a.data.source.data}, {"threads", std::to_string(threads)}, {"mnistcnn_version", "0.1.0"}};
  job.info.provenance.insert(regularisation.begin(), regularisation.end());
  job.recipe = {{"optimizer", recipe.optimizer}, {"lr", recipe.lr}, {"batch_size", recipe.batch_size},
                {"epochs", recipe.epochs}, {"schedule", a.run.schedule}, {"freeze", a.freeze},
                {"augment", regularisation["augment"]}, {"label_smoothing", a.run.label_smoothing},
                {"frozen_layers", frozen_with_params}, {"new_head", a.new_head}, {"lr_mult", a.lr_mult},
                {"loaded", report.loaded}, {"initialised", report.initialised}, {"skipped", report.skipped},
                {"seed", a.seed}, {"threads", threads}};
  run_training_job(job, a.run);
}

}  // namespace

void add_finetune_command(CLI::App& app) {
  auto a = std::make_shared<FinetuneArgs>();
  auto* cmd = app.add_subcommand("finetune", "Fine-tune a trained model on new data: new head, frozen layers, smaller learning rate");
  cmd->add_option("--from", a->from, "model file, checkpoint, or PyTorch state_dict (.safetensors; with --arch)")->required();
  cmd->add_option("--arch", a->arch, "architecture of a file that does not store one (a PyTorch state_dict)");
  cmd->add_option("--rename", a->rename, "prefix renames for the file's tensor names, e.g. \"conv1.=0.,conv2.=3.,fc.=7.\" "
                                         "for a PyTorch module with named layers");
  add_data_flags(cmd, a->data);
  cmd->add_option("--replay", a->replay, "IDX directory whose training images --replay-count mixes in")->capture_default_str();
  cmd->add_option("--replay-count", a->replay_count,
                  "mix this many seeded-random images of --replay into the training data, against forgetting")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--new-head", a->new_head,
                  "replace the classifier (the last dense layer) with one for N classes, or with a spec such as "
                  "\"dense(64) relu dense(5)\"");
  cmd->add_option("--freeze", a->freeze, "layers whose weights stay fixed: " + nn::selector_help());
  cmd->add_option("--unfreeze-after", a->unfreeze_after, "unfreeze the frozen layers after this many epochs")
      ->check(CLI::Range(0, 100000));
  cmd->add_flag("--gradual", a->gradual, "with --unfreeze-after: release one frozen layer per epoch, from the top");
  cmd->add_option("--lr-mult", a->lr_mult, "learning-rate factors per layer group, e.g. \"features=0.1;head=1\"");
  cmd->add_option("--epochs", a->epochs, "epochs")->check(CLI::Range(1, 100000))->capture_default_str();
  a->o_batch = cmd->add_option("--batch-size", a->batch_size, "images per batch (default 32)")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  a->o_optimizer = cmd->add_option("--optimizer", a->optimizer, "sgd | adam | adamw (default: the model's)")
                       ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  a->o_lr = cmd->add_option("--lr", a->lr, "learning rate (default: a tenth of the model's training rate)")
                ->check(finite_number())->check(CLI::Range(0.0, 100.0));
  a->o_momentum = cmd->add_option("--momentum", a->momentum, "SGD momentum")->check(finite_number())
                      ->check(CLI::Range(0.0, 0.9999))->capture_default_str();
  cmd->add_option("--weight-decay", a->weight_decay, "weight decay")->check(finite_number())->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--seed", a->seed, "seed for the new head, shuffling and dropout")->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024))->capture_default_str();
  cmd->add_option("--out", a->run.out, "model file to write (default models/finetuned.safetensors)");
  add_run_flags(cmd, a->run);
  cmd->callback([a] { run_finetune(*a); });
}

}  // namespace mnistcnn::cli
