// mnistcnn train: a preset's recipe or a spec line, trained on an IDX directory, with a
// progress bar (or plain lines), a JSONL log, checkpoints, exact resume, the model file,
// and the test accuracy.
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/data/loader.h"
#include "mnistcnn/io/model_file.h"
#include "mnistcnn/nn/init.h"
#include "mnistcnn/train/presets.h"
#include "training_run.h"

namespace mnistcnn::cli {

namespace {

struct TrainArgs {
  std::string preset, arch, optimizer, init, normalize;
  int epochs = 0, threads = 0;
  int64_t batch_size = 0;
  double lr = 0, momentum = 0, weight_decay = 0;
  bool nesterov = false, dry_run = false, deskew = false;
  int64_t normalize_width = 0;
  DataFlags data;
  uint64_t seed = 1;
  RunFlags run;
  CLI::App* cmd = nullptr;
  CLI::Option *o_epochs, *o_batch, *o_lr, *o_momentum, *o_wd, *o_optimizer, *o_init, *o_normalize, *o_nesterov;
};

// A recipe's schedule, augmentation, label smoothing, EMA, validation and target, where the
// command line does not give its own.
void apply_recipe_regularisation(const train::Recipe& recipe, TrainArgs& a) {
  auto given = [&](const char* flag) { return a.cmd->get_option(flag)->count() > 0; };
  if (!given("--schedule")) a.run.schedule = recipe.schedule;
  if (!given("--augment")) a.run.augment.augment = recipe.augment;
  if (!given("--label-smoothing")) a.run.label_smoothing = recipe.label_smoothing;
  if (!given("--ema")) a.run.ema = recipe.ema;
  if (!given("--stop-at")) a.run.stop_at = recipe.stop_at;
  if (!recipe.validate && !given("--val-split") && a.run.early_stop == 0) a.data.no_val = true;
}

void run_train(TrainArgs& a) {
  const int threads = setup_threads(a.threads);
  if (!a.preset.empty() && !a.arch.empty()) throw Error("--preset and --arch are exclusive", "give one of them");
  std::string preset_name = a.preset.empty() && a.arch.empty() ? "keras-mnist" : a.preset;
  train::Recipe recipe;
  std::string spec = a.arch;
  if (!preset_name.empty()) {
    const train::Preset* p = train::find_preset(preset_name);
    if (!p) throw Error("unknown preset '" + preset_name + "'", "presets: " + train::preset_names());
    recipe = p->recipe;
    spec = p->spec;
  }
  apply_recipe_regularisation(recipe, a);
  if (a.o_epochs->count()) recipe.epochs = a.epochs;
  if (a.o_batch->count()) recipe.batch_size = a.batch_size;
  if (a.o_optimizer->count()) {
    recipe.optimizer = a.optimizer;
    if (a.optimizer == "adamw" && !a.o_wd->count()) recipe.weight_decay = 0.01;  // PyTorch's AdamW default
    if (a.optimizer != "sgd") recipe.momentum = 0.0;
  }
  if (a.o_lr->count()) recipe.lr = a.lr;
  if (a.o_momentum->count()) recipe.momentum = a.momentum;
  if (a.o_nesterov->count()) recipe.nesterov = a.nesterov;
  if (a.o_wd->count()) recipe.weight_decay = a.weight_decay;
  if (a.o_init->count()) recipe.init = nn::parse_init(a.init);
  if (a.o_normalize->count()) recipe.normalization = a.normalize;
  data::Normalization norm = data::Normalization::parse(recipe.normalization);
  if (a.deskew) norm.deskew = true;
  if (a.normalize_width > 0) norm.width = a.normalize_width;
  const optim::ScheduleOptions sched_opt = optim::parse_schedule(a.run.schedule);
  if (a.run.out.empty()) a.run.out = "models/" + (preset_name.empty() ? std::string("custom") : preset_name) + ".safetensors";

  nn::Sequential net = nn::Sequential::from_spec(spec);  // a bad spec fails before any data is read
  if (norm.width > net.input_shape()[2])
    throw Error("width normalisation to " + std::to_string(norm.width) + " pixels does not fit the network's " +
                net.input_shape().str() + " input");
  Shape out_shape = net.shapes(1)[net.logits_end() - 1];
  if (out_shape.rank() != 2)
    throw Error("the network must end in N×classes scores, but it ends in " + out_shape.str(),
                "end the spec with flatten ... dense(10)");
  if (a.dry_run) {
    check_without_data(a.run, a.data, net);
    if (a.run.as_json)
      std::printf("%s\n", nlohmann::json{{"dry_run", true}, {"spec", net.spec()}, {"epochs", recipe.epochs},
                                         {"optimizer", recipe.optimizer}, {"lr", recipe.lr}}.dump().c_str());
    else
      std::printf("flags OK: %s, %s lr %g, %d epochs (dry run: no data read, nothing trained)\n", net.spec().c_str(),
                  recipe.optimizer.c_str(), recipe.lr, recipe.epochs);
    return;
  }
  PreparedData d = prepare_data(a.data, recipe.batch_size, a.seed, norm, a.run.quiet);
  const int classes = d.num_classes();
  if (out_shape[1] != classes) {
    const size_t head = net.logits_end() - 1;
    if (preset_name.empty() || net.layer(head).kind() != "dense")
      throw Error("the network has " + std::to_string(out_shape[1]) + " outputs but the data has " +
                      std::to_string(classes) + " classes",
                  "end the spec with dense(" + std::to_string(classes) + ")");
    // A preset on a subset (--classes 0-4): its output layer takes the number of classes.
    std::string adapted;
    for (size_t i = 0; i < net.size(); ++i)
      adapted += (i ? " " : "") + (i == head ? "dense(" + std::to_string(classes) + ")" : net.layer(i).spec());
    if (!a.run.quiet) note(std::to_string(classes) + " classes: the output layer of " + preset_name + " becomes dense(" + std::to_string(classes) + ")");
    net = nn::Sequential::from_spec(adapted);
  }
  net.init(recipe.init, a.seed);
  data::Loader& train_loader = *d.train;
  auto opt = train::make_optimizer(recipe, net.params());
  optim::Schedule schedule(sched_opt, recipe.lr, train_loader.num_batches(), recipe.epochs);

  TrainingJob job;
  job.run = base_run_record(a.seed, recipe.batch_size, recipe.optimizer, train_loader, recipe.epochs, recipe.lr,
                            a.run.schedule);
  job.run.insert({{"momentum", fmt("%g", recipe.momentum)}, {"nesterov", recipe.nesterov ? "true" : "false"},
                  {"weight_decay", fmt("%g", recipe.weight_decay)}, {"normalization", norm.name()},
                  {"init", nn::init_name(recipe.init)}});
  std::map<std::string, std::string> regularisation;
  apply_regularisation(a.run, *d.train, job.run, regularisation);
  if (!a.run.resume.empty())
    resume_job(a.run, job, net, opt,
               [&](nn::Sequential& n) { return train::make_optimizer(recipe, n.params()); },
               schedule, recipe.epochs);
  if (!a.run.quiet) {
    note("network: " + net.spec() + "  (" + human_count(net.param_count()) + " parameters)");
    note("recipe: " + recipe.optimizer + " lr " + fmt("%g", recipe.lr) +
         (recipe.momentum > 0 ? " momentum " + fmt("%g", recipe.momentum) : "") +
         (recipe.weight_decay > 0 ? " weight decay " + fmt("%g", recipe.weight_decay) : "") + ", schedule " +
         schedule.describe() + ", batch " + std::to_string(recipe.batch_size) + ", " + std::to_string(recipe.epochs) +
         " epochs, init " + nn::init_name(recipe.init) + ", normalization " + norm.name() + ", seed " +
         std::to_string(a.seed) + ", " + std::to_string(threads) + " threads");
    note("training on " + human_count(train_loader.size()) + " images; validation: " + d.val_name);
  }

  job.net = &net;
  job.opt = opt.get();
  job.schedule = &schedule;
  job.train = &train_loader;
  job.val = d.val.get();
  job.test = d.test.get();
  job.epochs = recipe.epochs;
  job.info.normalization = norm;
  job.info.classes = d.data->class_names;
  job.info.provenance = {{"preset", preset_name.empty() ? "custom" : preset_name},
                         {"optimizer", recipe.optimizer}, {"lr", fmt("%g", recipe.lr)},
                         {"schedule", a.run.schedule},
                         {"batch_size", std::to_string(recipe.batch_size)}, {"epochs", std::to_string(recipe.epochs)},
                         {"seed", std::to_string(a.seed)}, {"init", nn::init_name(recipe.init)},
                         {"train_images", std::to_string(train_loader.size())}, {"data", a.data.source.data},
                         {"threads", std::to_string(threads)}, {"mnistcnn_version", "0.1.0"}};
  job.info.provenance.insert(regularisation.begin(), regularisation.end());
  job.recipe = {{"optimizer", recipe.optimizer}, {"lr", recipe.lr}, {"momentum", recipe.momentum},
                {"weight_decay", recipe.weight_decay}, {"batch_size", recipe.batch_size},
                {"epochs", recipe.epochs}, {"normalization", norm.name()}, {"schedule", a.run.schedule},
                {"augment", regularisation["augment"]}, {"label_smoothing", a.run.label_smoothing},
                {"init", nn::init_name(recipe.init)}, {"seed", a.seed}, {"threads", threads}};
  run_training_job(job, a.run);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a network (a preset's recipe or a spec line) on MNIST-format data");
  a->cmd = cmd;
  cmd->add_option("--preset", a->preset, "named network with its seed recipe: " + train::preset_names() +
                                             " (default keras-mnist when no --arch)");
  cmd->add_option("--arch", a->arch, "network as a spec line, e.g. \"conv(32,3) relu maxpool(2) flatten dense(10)\"");
  add_data_flags(cmd, a->data);
  a->o_epochs = cmd->add_option("--epochs", a->epochs, "training epochs")->check(CLI::Range(1, 100000));
  a->o_batch = cmd->add_option("--batch-size", a->batch_size, "images per batch")->check(CLI::Range(int64_t{1}, int64_t{65536}));
  a->o_optimizer = cmd->add_option("--optimizer", a->optimizer, "sgd | adam | adamw")->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  a->o_lr = cmd->add_option("--lr", a->lr, "learning rate")->check(finite_number())->check(CLI::Range(0.0, 100.0));
  a->o_momentum = cmd->add_option("--momentum", a->momentum, "SGD momentum")->check(finite_number())->check(CLI::Range(0.0, 0.9999));
  a->o_nesterov = cmd->add_flag("--nesterov", a->nesterov, "Nesterov momentum (SGD)");
  a->o_wd = cmd->add_option("--weight-decay", a->weight_decay, "L2 weight decay (decoupled for adamw; default 0.01 there)")
                ->check(finite_number())->check(CLI::Range(0.0, 10.0));
  a->o_init = cmd->add_option("--init", a->init, "weight initialisation: torch | glorot-uniform");
  a->o_normalize = cmd->add_option("--normalize", a->normalize,
                                   "scale (pixels/255) | standardize (mean 0.1307, std 0.3081) | MEAN,STD, each "
                                   "optionally +deskew, then +width=N");
  cmd->add_flag("--deskew", a->deskew,
                "deskew every image (shear it upright about its centre of mass) before normalising; stored in the "
                "model, so eval, predict and the server do the same");
  cmd->add_option("--normalize-width", a->normalize_width,
                  "scale each digit's ink horizontally to N pixels wide, centred, its height kept (Ciresan et al. "
                  "2012's width normalisation; after --deskew); stored in the model")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  cmd->add_option("--seed", a->seed, "seed for initialisation, shuffling and dropout")->capture_default_str();
  cmd->add_option("--threads", a->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024))->capture_default_str();
  cmd->add_option("--out", a->run.out, "model file to write (default models/PRESET.safetensors)");
  add_run_flags(cmd, a->run);
  cmd->add_flag("--dry-run", a->dry_run, "check the flags and the network, then exit without reading data or training");
  cmd->callback([a] { run_train(*a); });
}

}  // namespace mnistcnn::cli
