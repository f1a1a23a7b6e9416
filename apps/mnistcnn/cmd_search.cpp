// mnistcnn search: hyperparameter search over any train flags (grid, random, successive
// halving; held-out or K-fold validation, never the test set), each trial a child
// `train` process; writes trials.jsonl, summary.md and best.json.
#include <ctime>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "common.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/search/args.h"
#include "mnistcnn/search/report.h"
#include "mnistcnn/search/search.h"
#include "signal_stop.h"
#include "training_run.h"

namespace mnistcnn::cli {

namespace {

struct SearchArgs {
  std::string base, out;
  std::vector<std::string> grid, param;
  int random = 0, halving = 0, min_epochs = 1, max_epochs = 0, folds = 0, parallel = 0;
  double val_split = 0.1;
  uint64_t seed = 0;
  bool keep_models = false, quiet = false;
  CLI::Option* o_parallel = nullptr;
};


std::string default_out() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", std::gmtime(&t));
  return std::string("runs/search-") + buf;
}

std::vector<search::Config> make_configs(const SearchArgs& a, std::string& what) {
  if (a.grid.empty() && a.param.empty())
    throw Error("nothing to search", "give --grid \"lr=1e-3,3e-3\", or --random N with --param \"lr=log:1e-4:1e-2\"");
  std::vector<search::SearchParam> params;
  for (const std::string& g : a.grid) params.push_back(search::parse_grid(g));
  for (const std::string& p : a.param) params.push_back(search::parse_param(p));
  if (a.random == 0) {
    if (!a.param.empty()) throw Error("--param draws values for random search", "add --random N (the number of trials)");
    auto configs = search::grid_configs(params);
    what = "grid search over " + std::to_string(configs.size()) + " configurations";
    return configs;
  }
  auto configs = search::random_configs(params, a.random, a.seed);
  what = "random search: " + std::to_string(configs.size()) + " configurations drawn with seed " + std::to_string(a.seed) +
         (static_cast<int>(configs.size()) < a.random ? " (the space has no more distinct ones)" : "");
  return configs;
}

void check_flags(const SearchArgs& a, const std::vector<std::string>& base, const std::vector<search::Config>& configs) {
  for (const std::string& r : search::reserved_flags())
    if (search::has_flag(base, r, r == "quiet" ? std::vector<std::string>{"-q"} : std::vector<std::string>{}))
      throw Error("--base gives --" + r + ", which the search sets for every trial", "leave it out of --base");
  if (a.halving > 0 && search::has_flag(base, "epochs"))
    throw Error("--base gives --epochs, but --halving sets the epochs of each rung", "use --min-epochs and --max-epochs");
  for (const auto& [name, value] : configs.front()) {
    const auto& r = search::reserved_flags();
    if (std::find(r.begin(), r.end(), name) != r.end())
      throw Error("'" + name + "' cannot be searched: the search sets --" + name + " itself");
    if (name == "epochs" && a.halving > 0) throw Error("'epochs' cannot be searched with --halving: the rungs set it");
    if (search::has_flag(base, name))
      throw Error("--" + name + " is both in --base and searched", "leave it out of --base");
  }
}

void run_search_command(SearchArgs& a) {
  if (a.o_parallel->count() && a.parallel < 1) throw Error("--parallel " + std::to_string(a.parallel) + ": at least 1 trial must run at a time");
  if (a.folds == 1 || a.folds < 0) throw Error("--folds " + std::to_string(a.folds) + ": K-fold needs at least 2 folds");
  if (a.random < 0) throw Error("--random " + std::to_string(a.random) + ": the number of trials must be at least 1");
  std::string what;
  const std::vector<std::string> base = search::split_args(a.base);
  const std::vector<search::Config> configs = make_configs(a, what);
  if (configs.empty()) throw Error("the search space is empty");
  check_flags(a, base, configs);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  search::SearchOptions o;
  o.program = std::filesystem::read_symlink("/proc/self/exe").string();
  o.base = base, o.configs = configs, o.val_split = a.val_split, o.folds = a.folds;
  o.halving = a.halving, o.min_epochs = a.min_epochs, o.max_epochs = a.max_epochs;
  o.parallel = a.parallel > 0 ? a.parallel : cores;
  o.threads = std::max(1, cores / o.parallel);
  o.keep_models = a.keep_models;
  if (a.out.empty()) a.out = default_out();
  if (std::filesystem::exists(a.out + "/trials.jsonl"))
    throw Error(a.out + ": holds the results of another search (trials.jsonl)", "choose another --out");
  std::error_code ec;
  std::filesystem::create_directories(a.out, ec);
  if (ec) throw Error(a.out + ": cannot create the directory: " + ec.message());
  o.trial_dir = a.out + "/trials";

  std::string description = what + "; base flags: `" + (base.empty() ? std::string("(none)") : search::join_args(base)) +
                            "`; validation: " +
                            (a.folds > 0 ? std::to_string(a.folds) + "-fold cross-validation (--val-fold i/" +
                                               std::to_string(a.folds) + ")"
                                         : "--val-split " + search::format_value(a.val_split)) +
                            (a.halving > 0 ? "; successive halving by " + std::to_string(a.halving) + " from " +
                                                 std::to_string(a.min_epochs) + " epochs"
                                           : "");
  if (!a.quiet) note(description + "; " + std::to_string(o.parallel) + " trials at once, " + std::to_string(o.threads) + (o.threads == 1 ? " thread" : " threads") + " each");
  search::SearchCallbacks cb;
  cb.note = [&](const std::string& s) { if (!a.quiet) note(s); };
  const size_t per_rung = configs.size() * static_cast<size_t>(std::max(a.folds, 1));
  cb.on_trial = [&](const search::TrialResult& t, const std::vector<search::TrialResult>& all) {
    search::write_trials(a.out + "/trials.jsonl", all);
    if (a.quiet) return;
    std::string line = "trial " + std::to_string(t.id) + (a.halving > 0 ? " (rung " + std::to_string(t.rung) + ")" : "") +
                       (t.fold > 0 ? " fold " + std::to_string(t.fold) : "") + ": " + search::config_text(t.flags) + ": ";
    line += t.status == "ok" ? "val accuracy " + percent(t.val_accuracy) + ", loss " + fmt("%.4f", t.val_loss) + ", " +
                                   fmt("%.1f", t.train_seconds) + " s"
                             : t.status + ": " + t.error;
    note(line + (a.halving > 0 ? "" : " [" + std::to_string(all.size()) + "/" + std::to_string(per_rung) + "]"));
  };

  search::SearchOutcome outcome;
  const char* stop_name = "";
  int stop_code = 0;
  {
    const SignalStop signals;
    outcome = search::run_search(o, cb, signals.flag());
    stop_name = signals.name();
    stop_code = signals.exit_code();
  }

  const auto rows = search::leaderboard(outcome.trials);
  const bool has_best = !rows.empty() && rows.front().ok();
  const int final_epochs = a.halving > 0 && has_best ? rows.front().epochs : 0;
  const auto command = has_best ? search::final_command(base, rows.front(), final_epochs) : std::vector<std::string>{};
  const std::string summary = search::summary_markdown(rows, a.folds > 0, description, command, outcome.complete);
  const auto write = [](const std::string& path, const std::string& text) {
    io::write_file_atomic(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  };
  write(a.out + "/summary.md", summary);
  if (has_best) write(a.out + "/best.json", search::best_json(rows.front(), a.folds > 0, command).dump(2) + "\n");
  std::printf("%s", search::markdown_table(rows, a.folds > 0).c_str());
  if (has_best) std::printf("\nbest: %s\ntrain it on all the data: %s\n", search::config_text(rows.front().flags).c_str(),
                            search::join_args(command).c_str());
  std::printf("results in %s (trials.jsonl, summary.md%s)\n", a.out.c_str(), has_best ? ", best.json" : "");
  if (!outcome.complete) {
    note(std::string("search stopped by ") + stop_name + "; the tables hold the trials that finished");
    throw StoppedBySignal{stop_code};
  }
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto a = std::make_shared<SearchArgs>();
  auto* cmd = app.add_subcommand("search", "Hyperparameter search over train flags: grid, random or successive halving, "
                                           "scored on held-out training data (never the test set)");
  cmd->add_option("--base", a->base, "train flags every trial gets, e.g. \"--preset keras-mnist --epochs 2\"");
  cmd->add_option("--grid", a->grid, "NAME=V1,V2,...: a train flag and its values (separate them with | when they hold "
                                     "commas, as specs do); several --grid make the cartesian product (with --random: "
                                     "drawn uniformly)");
  cmd->add_option("--param", a->param, "NAME=log:LO:HI | uniform:LO:HI | int:LO:HI | choice:V1,V2 (with --random)");
  cmd->add_option("--random", a->random, "random search: this many configurations drawn from --param and --grid");
  cmd->add_option("--seed", a->seed, "seed of the random draws")->capture_default_str();
  cmd->add_option("--halving", a->halving, "successive halving with this factor ETA: all configurations for --min-epochs, "
                                           "the best 1/ETA continue with ETA times the epochs, until one is left or "
                                           "--max-epochs (survivors resume from their checkpoints unless the schedule "
                                           "depends on --epochs, as cosine and onecycle do; then they train afresh)")
      ->check(CLI::Range(2, 100));
  cmd->add_option("--min-epochs", a->min_epochs, "--halving: epochs of the first rung")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--max-epochs", a->max_epochs, "--halving: most epochs of a rung (0: no cap)")->check(CLI::Range(0, 100000));
  auto* split = cmd->add_option("--val-split", a->val_split, "fraction of the training images each trial validates on")
                    ->check(finite_number())->check(CLI::Range(0.01, 0.9))->capture_default_str();
  cmd->add_option("--folds", a->folds, "K-fold cross-validation: each configuration trained K times (--val-fold i/K); "
                                       "score: the mean validation accuracy (its std reported)")->excludes(split);
  a->o_parallel = cmd->add_option("--parallel", a->parallel, "trials at once (default: the number of cores); each gets --threads "
                                             "max(1, cores / parallel) unless --base gives --threads");
  cmd->add_option("--out", a->out, "directory for trials.jsonl, summary.md, best.json (default runs/search-TIME)");
  cmd->add_flag("--keep-models", a->keep_models, "keep each trial's model (and checkpoints) under OUT/trials");
  cmd->add_flag("--quiet,-q", a->quiet, "no progress lines");
  cmd->footer("Objective: the validation accuracy of a trial's last epoch (of its restored best epoch when --base has "
              "--early-stop), ties broken by validation loss. Trials run `train ... --no-test --json`; a failed trial is "
              "recorded and the search goes on.");
  cmd->callback([a] { run_search_command(*a); });
}

}  // namespace mnistcnn::cli
