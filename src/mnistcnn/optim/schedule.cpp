#include "mnistcnn/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "mnistcnn/core/error.h"
#include "mnistcnn/nn/spec.h"

namespace mnistcnn::optim {

namespace {
constexpr double kMaxEpochs = 1e6;

// PyTorch's _annealing_cos: from `start` (pct 0) to `end` (pct 1).
double cos_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}
}  // namespace

std::string schedule_kinds() {
  return "constant | step(EPOCHS, gamma=0.1) | exp(GAMMA) | cosine(min_lr=0) | onecycle(max_lr=LR, pct_start=0.3) | "
         "plateau(patience=10, factor=0.1); all but onecycle take warmup=EPOCHS";
}

ScheduleOptions parse_schedule(const std::string& text) {
  const auto layers = nn::parse_spec(text);
  if (layers.size() != 1)
    throw Error("schedule '" + text + "': expected one schedule", "schedules: " + schedule_kinds());
  const nn::LayerSpec& s = layers[0];
  nn::LayerArgs a(s.text, s.positional, s.named, "schedule");
  ScheduleOptions o;
  o.kind = s.kind;
  if (o.kind == "exponential") o.kind = "exp";
  if (o.kind == "one-cycle" || o.kind == "one_cycle") o.kind = "onecycle";
  if (o.kind == "reduce-on-plateau" || o.kind == "reduce_on_plateau") o.kind = "plateau";
  if (o.kind == "constant") {
  } else if (o.kind == "step") {
    o.step_epochs = a.real(0, "every", 1, 1e-9, kMaxEpochs);
    o.gamma = a.real(1, "gamma", 0.1, 0, 1e6);
  } else if (o.kind == "exp") {
    o.gamma = a.real(0, "gamma", 0.95, 0, 1e6);
  } else if (o.kind == "cosine") {
    o.min_lr = a.real(0, "min_lr", 0, 0, 1e6);
  } else if (o.kind == "onecycle") {
    o.max_lr = a.real(0, "max_lr", 0, 0, 1e6);
    o.pct_start = a.real(1, "pct_start", 0.3, 1e-6, 1 - 1e-6);
    o.div_factor = a.real(2, "div_factor", 25, 1e-6, 1e12);
    o.final_div_factor = a.real(3, "final_div_factor", 1e4, 1e-6, 1e12);
  } else if (o.kind == "plateau") {
    o.patience = static_cast<int>(a.integer(0, "patience", 10, 0, 1000000));
    o.factor = a.real(1, "factor", 0.1, 1e-9, 1 - 1e-9);
    o.min_lr = a.real(2, "min_lr", 0, 0, 1e6);
    o.threshold = a.real(3, "threshold", 1e-4, 0, 1);
    o.cooldown = static_cast<int>(a.integer(4, "cooldown", 0, 0, 1000000));
  } else {
    throw Error("unknown schedule '" + s.kind + "'", "schedules: " + schedule_kinds());
  }
  if (o.kind != "onecycle") o.warmup_epochs = a.real(99, "warmup", 0, 0, kMaxEpochs);
  a.finish();
  return o;
}

Schedule::Schedule(const ScheduleOptions& options, double base_lr, int64_t steps_per_epoch, int epochs)
    : opt_(options),
      base_lr_(base_lr),
      steps_per_epoch_(std::max<int64_t>(steps_per_epoch, 1)),
      total_steps_(std::max<int64_t>(steps_per_epoch_ * std::max(epochs, 1), 1)),
      plateau_lr_(base_lr) {}

double Schedule::lr_at(int64_t step) const {
  const int64_t epoch = step / steps_per_epoch_;
  const auto warmup_steps = static_cast<int64_t>(std::llround(opt_.warmup_epochs * static_cast<double>(steps_per_epoch_)));
  double lr = base_lr_;
  if (opt_.kind == "step") {
    const auto decays = static_cast<int64_t>(std::floor(static_cast<double>(epoch) / opt_.step_epochs + 1e-9));
    lr = base_lr_ * std::pow(opt_.gamma, static_cast<double>(decays));
  } else if (opt_.kind == "exp") {
    lr = base_lr_ * std::pow(opt_.gamma, static_cast<double>(epoch));
  } else if (opt_.kind == "cosine") {
    const double span = static_cast<double>(std::max<int64_t>(total_steps_ - warmup_steps, 1));
    const double t = std::clamp(static_cast<double>(step - warmup_steps) / span, 0.0, 1.0);
    lr = cos_anneal(base_lr_, opt_.min_lr, t);
  } else if (opt_.kind == "onecycle") {
    // torch.optim.lr_scheduler.OneCycleLR, two phases, cosine annealing.
    const double peak = opt_.max_lr > 0 ? opt_.max_lr : base_lr_;
    const double start = peak / opt_.div_factor, end = start / opt_.final_div_factor;
    const double rise_end = opt_.pct_start * static_cast<double>(total_steps_) - 1.0;
    const double fall_end = static_cast<double>(total_steps_) - 1.0;
    const auto s = static_cast<double>(std::min(step, total_steps_ - 1));
    if (s <= rise_end || rise_end <= 0)
      return rise_end <= 0 ? peak : cos_anneal(start, peak, s / rise_end);
    return cos_anneal(peak, end, (s - rise_end) / std::max(fall_end - rise_end, 1.0));
  } else if (opt_.kind == "plateau") {
    lr = plateau_lr_;
  }
  if (step < warmup_steps) lr *= static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  return lr;
}

void Schedule::end_epoch(double metric) {
  if (opt_.kind != "plateau" || !std::isfinite(metric)) return;
  // torch.optim.lr_scheduler.ReduceLROnPlateau, mode "min", threshold_mode "rel".
  if (!has_best_ || metric < best_ * (1.0 - opt_.threshold)) {
    best_ = metric;
    has_best_ = true;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > opt_.patience) {
    const double reduced = std::max(plateau_lr_ * opt_.factor, opt_.min_lr);
    if (plateau_lr_ - reduced > 1e-8) plateau_lr_ = reduced;
    cooldown_left_ = opt_.cooldown;
    bad_epochs_ = 0;
  }
}

std::string Schedule::describe() const {
  auto num = [](double v) { return nn::spec_number(v); };
  std::string d = opt_.kind;
  if (opt_.kind == "step") d += "(every " + num(opt_.step_epochs) + " epochs, gamma " + num(opt_.gamma) + ")";
  if (opt_.kind == "exp") d += "(gamma " + num(opt_.gamma) + " per epoch)";
  if (opt_.kind == "cosine") d += "(to " + num(opt_.min_lr) + ")";
  if (opt_.kind == "onecycle")
    d += "(max " + num(opt_.max_lr > 0 ? opt_.max_lr : base_lr_) + ", rising " + num(opt_.pct_start * 100) + "%)";
  if (opt_.kind == "plateau") d += "(patience " + std::to_string(opt_.patience) + ", factor " + num(opt_.factor) + ")";
  if (opt_.warmup_epochs > 0) d += " with " + num(opt_.warmup_epochs) + " warm-up epochs";
  return d;
}

std::map<std::string, double> Schedule::state() const {
  return {{"plateau_lr", plateau_lr_}, {"best", has_best_ ? best_ : 0.0}, {"has_best", has_best_ ? 1.0 : 0.0},
          {"bad_epochs", bad_epochs_}, {"cooldown_left", cooldown_left_}};
}

void Schedule::set_state(const std::map<std::string, double>& state) {
  auto get = [&](const char* key) {
    const auto it = state.find(key);
    if (it == state.end() || !std::isfinite(it->second)) throw Error(std::string("schedule state lacks '") + key + "'");
    return it->second;
  };
  plateau_lr_ = get("plateau_lr");
  best_ = get("best");
  has_best_ = get("has_best") != 0.0;
  bad_epochs_ = static_cast<int>(get("bad_epochs"));
  cooldown_left_ = static_cast<int>(get("cooldown_left"));
}

}  // namespace mnistcnn::optim
