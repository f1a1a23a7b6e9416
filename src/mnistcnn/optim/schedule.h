// Learning-rate schedules: the rate for each optimizer step as a function of the step
// (and, for reduce-on-plateau, of the validation metric seen so far), with PyTorch's
// formulas. Everything a resumed run needs is in state(), so schedules resume exactly.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace mnistcnn::optim {

struct ScheduleOptions {
  std::string kind = "constant";  // constant | step | exp | cosine | onecycle | plateau
  double step_epochs = 1;         // step: decay every this many epochs
  double gamma = 0.1;             // step / exp: factor per decay
  double min_lr = 0;              // cosine: final rate; plateau: floor
  double warmup_epochs = 0;       // linear warm-up from ~0 (all but onecycle)
  double max_lr = 0;              // onecycle: peak rate (0: the base rate)
  double pct_start = 0.3;         // onecycle: fraction of steps rising
  double div_factor = 25;         // onecycle: start = max_lr / div_factor
  double final_div_factor = 1e4;  // onecycle: end = start / final_div_factor
  double factor = 0.1;            // plateau: rate *= factor
  int patience = 10;              // plateau: epochs without improvement tolerated
  double threshold = 1e-4;        // plateau: relative improvement that counts
  int cooldown = 0;               // plateau: epochs to wait after a reduction
};

// "cosine", "step(5, gamma=0.5)", "cosine(warmup=1, min_lr=1e-5)", "exp(0.9)",
// "onecycle(max_lr=0.01)", "plateau(patience=2, factor=0.5)"; Error on anything else.
ScheduleOptions parse_schedule(const std::string& text);
std::string schedule_kinds();  // for help texts

class Schedule {
 public:
  Schedule() = default;
  // steps_per_epoch and epochs fix the length of cosine and one-cycle schedules.
  Schedule(const ScheduleOptions& options, double base_lr, int64_t steps_per_epoch, int epochs);

  // The rate for the update after `step` updates have been done (0-based).
  double lr_at(int64_t step) const;
  // After each epoch: reduce-on-plateau watches `metric` (lower is better).
  void end_epoch(double metric);
  std::string describe() const;
  const ScheduleOptions& options() const { return opt_; }

  std::map<std::string, double> state() const;
  void set_state(const std::map<std::string, double>& state);  // throws on missing keys

 private:
  ScheduleOptions opt_;
  double base_lr_ = 0;
  int64_t steps_per_epoch_ = 1;
  int64_t total_steps_ = 1;
  // reduce-on-plateau
  double plateau_lr_ = 0;
  double best_ = 0;
  bool has_best_ = false;
  int bad_epochs_ = 0, cooldown_left_ = 0;
};

}  // namespace mnistcnn::optim
