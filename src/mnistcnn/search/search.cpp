// The search loop: a dry run of every configuration, then rung after rung (one rung
// without halving) of child trainings, their results parsed and handed to the caller.
#include "mnistcnn/search/search.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "mnistcnn/core/error.h"
#include "mnistcnn/optim/schedule.h"
#include "mnistcnn/search/args.h"
#include "mnistcnn/search/halving.h"
#include "mnistcnn/search/process_pool.h"
#include "mnistcnn/train/presets.h"

namespace mnistcnn::search {

namespace {

enum class Checkpoints { None, Write, Resume };

std::string trial_name(int config, int fold) {
  char buf[48];
  std::snprintf(buf, sizeof buf, fold > 0 ? "c%03d-f%d" : "c%03d", config, fold);
  return buf;
}

std::vector<std::string> flags_of(const SearchOptions& o, const Config& c) {
  std::vector<std::string> words = o.base;
  for (const std::string& a : config_args(c)) words.push_back(a);
  return words;
}

std::string model_path(const SearchOptions& o, int config, int fold) {
  return o.trial_dir + "/" + trial_name(config, fold) + "/model.safetensors";
}

std::vector<std::string> command(const SearchOptions& o, const Config& c, int config, int fold, int epochs,
                                 Checkpoints ck) {
  std::vector<std::string> a{"train"};
  for (const std::string& w : flags_of(o, c)) a.push_back(w);
  if (epochs > 0) a.push_back("--epochs=" + std::to_string(epochs));
  if (o.folds > 0) a.push_back("--val-fold=" + std::to_string(fold) + "/" + std::to_string(o.folds));
  else a.push_back("--val-split=" + format_value(o.val_split));
  for (const char* w : {"--no-test", "--json", "-q"}) a.push_back(w);
  const std::string dir = o.trial_dir + "/" + trial_name(config, fold);
  a.push_back("--out=" + model_path(o, config, fold));
  if (!has_flag(flags_of(o, c), "threads")) a.push_back("--threads=" + std::to_string(o.threads));
  if (ck != Checkpoints::None) {
    a.push_back("--checkpoint-dir=" + dir + "/ck");
    a.push_back("--keep-last=1");
  }
  if (ck == Checkpoints::Resume) a.push_back("--resume=" + dir + "/ck");
  return a;
}

// Resuming a survivor with a larger --epochs continues exactly the run a fresh training
// with that many epochs would make, unless the schedule's shape depends on the epoch count.
bool resume_is_exact(const SearchOptions& o) {
  for (const Config& c : o.configs) {
    auto s = flag_value(flags_of(o, c), "schedule");
    if (!s) {  // a preset's recipe may bring its own schedule
      const auto preset = flag_value(flags_of(o, c), "preset");
      const train::Preset* p = preset ? train::find_preset(*preset) : nullptr;
      if (p) s = p->recipe.schedule;
    }
    if (!s) continue;
    try {
      const std::string kind = optim::parse_schedule(*s).kind;
      if (kind == "cosine" || kind == "onecycle") return false;
    } catch (const Error&) {
      return false;
    }
  }
  return true;
}

}  // namespace

const std::vector<std::string>& reserved_flags() {
  static const std::vector<std::string> r = {"out",      "json",   "quiet",          "no-test",   "val-split",
                                             "val-fold", "no-val", "checkpoint-dir", "keep-last", "resume",
                                             "dry-run",  "help"};
  return r;
}

SearchOutcome run_search(const SearchOptions& o, const SearchCallbacks& cb, const std::atomic<bool>* stop) {
  SearchOutcome out;
  auto note = [&](const std::string& s) { if (cb.note) cb.note(s); };
  auto record = [&](TrialResult t) {
    t.id = static_cast<int>(out.trials.size()) + 1;
    out.trials.push_back(std::move(t));
    if (cb.on_trial) cb.on_trial(out.trials.back(), out.trials);
  };
  std::vector<int> folds;
  for (int f = 1; f <= std::max(o.folds, 1); ++f) folds.push_back(o.folds > 0 ? f : 0);
  const int first_epochs = o.halving > 0 ? o.min_epochs : 0;

  // Flags first: train --dry-run parses everything but the data in milliseconds.
  std::vector<std::vector<std::string>> checks;
  for (size_t i = 0; i < o.configs.size(); ++i) {
    checks.push_back({o.program});
    for (const std::string& w : command(o, o.configs[i], static_cast<int>(i), folds[0], first_epochs, Checkpoints::None))
      checks.back().push_back(w);
    checks.back().push_back("--dry-run");
  }
  std::vector<std::string> refusal(o.configs.size());
  const bool checked = run_processes(checks, o.parallel, [&](size_t i, const ProcessResult& r) {
    if (r.exit_code == 0) return true;
    refusal[i] = r.terminated ? "stopped" : train_error(r.err);
    if (refusal[i].empty()) refusal[i] = "exit code " + std::to_string(r.exit_code);
    return true;
  }, stop);
  if (!checked) return out.complete = false, out;
  std::vector<int> alive;
  for (size_t i = 0; i < o.configs.size(); ++i) {
    if (refusal[i].empty()) {
      alive.push_back(static_cast<int>(i));
      continue;
    }
    TrialResult t;
    t.config = static_cast<int>(i), t.flags = o.configs[i], t.status = "invalid", t.error = refusal[i];
    record(t);
  }
  if (alive.empty())
    throw Error("train refuses every configuration: " + refusal[0],
                "check --base, --grid and --param against `mnistcnn train --help`");

  const std::vector<Rung> plan =
      o.halving > 0 ? halving_plan(alive.size(), o.halving, o.min_epochs, o.max_epochs) : std::vector<Rung>{{alive.size(), 0}};
  const bool resume = o.halving > 0 && resume_is_exact(o);
  out.resumed_rungs = resume && plan.size() > 1;
  if (o.halving > 0) {
    std::string s = "successive halving:";
    for (size_t r = 0; r < plan.size(); ++r)
      s += (r ? ", " : " ") + std::to_string(plan[r].configs) + " × " + std::to_string(plan[r].epochs) + " epochs";
    note(s + (plan.size() < 2 ? "" : resume ? "; survivors continue from their checkpoints (exact: the schedule does not depend on --epochs)"
                                          : "; survivors train afresh (the schedule depends on --epochs)"));
  }
  bool any_ok = false;
  for (size_t r = 0; r < plan.size(); ++r) {
    std::vector<std::pair<int, int>> jobs;  // (config, fold)
    std::vector<std::vector<std::string>> commands;
    const Checkpoints ck = !resume ? Checkpoints::None : r == 0 ? Checkpoints::Write : Checkpoints::Resume;
    for (int c : alive)
      for (int f : folds) {
        jobs.push_back({c, f});
        commands.push_back({o.program});
        for (const std::string& w : command(o, o.configs[static_cast<size_t>(c)], c, f, plan[r].epochs, ck))
          commands.back().push_back(w);
      }
    const size_t give_up_after = std::min<size_t>(3, jobs.size());
    size_t failures = 0;
    std::set<std::string> messages;
    bool gave_up = false;
    const bool all_ran = run_processes(commands, o.parallel, [&](size_t i, const ProcessResult& res) {
      TrialResult t;
      t.config = jobs[i].first, t.fold = jobs[i].second, t.rung = static_cast<int>(r);
      t.flags = o.configs[static_cast<size_t>(t.config)], t.epochs = plan[r].epochs;
      t.train_seconds = res.seconds;
      if (res.terminated) {
        t.status = "stopped", t.error = "stopped by the search";
      } else if (res.exit_code != 0) {
        t.status = "failed";
        t.error = train_error(res.err);
        if (t.error.empty()) t.error = "exit code " + std::to_string(res.exit_code);
      } else {
        try {
          read_train_output(res.out, t);
        } catch (const Error& e) {
          t.status = "failed", t.error = e.what();
        }
      }
      if (!o.keep_models && o.halving == 0)
        std::filesystem::remove_all(o.trial_dir + "/" + trial_name(t.config, t.fold));
      if (o.keep_models && t.status == "ok") t.model = model_path(o, t.config, t.fold);
      const bool ok = t.status == "ok";
      any_ok = any_ok || ok;
      if (!ok && !res.terminated) ++failures, messages.insert(t.error);
      record(t);
      gave_up = !any_ok && failures >= give_up_after && messages.size() == 1;
      return !gave_up;
    }, stop);
    if (gave_up)
      throw Error("the first " + std::to_string(failures) + " trials all failed: " + *messages.begin(),
                  "the search stopped; see trials.jsonl, and try the flags with `mnistcnn train` alone");
    if (!all_ran) return out.complete = false, out;
    if (r + 1 == plan.size()) break;
    std::vector<TrialResult> rung_trials;
    for (const TrialResult& t : out.trials)
      if (t.rung == static_cast<int>(r) && t.status != "invalid") rung_trials.push_back(t);
    std::vector<int> keep;
    for (const Leader& l : leaderboard(rung_trials))
      if (l.ok() && keep.size() < plan[r + 1].configs) keep.push_back(l.config);
    if (keep.empty()) break;  // every configuration failed: nothing to promote
    std::sort(keep.begin(), keep.end());
    if (!o.keep_models)
      for (int c : alive)
        if (!std::binary_search(keep.begin(), keep.end(), c))
          for (int f : folds) std::filesystem::remove_all(o.trial_dir + "/" + trial_name(c, f));
    alive = keep;
  }
  if (!o.keep_models) std::filesystem::remove_all(o.trial_dir);
  return out;
}

}  // namespace mnistcnn::search
