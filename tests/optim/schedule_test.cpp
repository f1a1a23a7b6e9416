// Learning-rate schedules against PyTorch's formulas at known points, warm-up, the
// plateau rule, resumable state and the parser's errors.
#include "mnistcnn/optim/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "mnistcnn/core/error.h"

namespace mnistcnn {
namespace {

using optim::parse_schedule;
using optim::Schedule;

TEST(Schedule, ConstantAndStepAndExponential) {
  Schedule c(parse_schedule("constant"), 0.1, 10, 5);
  EXPECT_DOUBLE_EQ(c.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(c.lr_at(49), 0.1);
  Schedule s(parse_schedule("step(2, gamma=0.5)"), 0.1, 10, 6);  // StepLR(step_size=2, gamma=0.5)
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(19), 0.1);   // epoch 1
  EXPECT_DOUBLE_EQ(s.lr_at(20), 0.05);  // epoch 2
  EXPECT_DOUBLE_EQ(s.lr_at(45), 0.025);
  Schedule e(parse_schedule("exp(0.9)"), 1.0, 4, 3);
  EXPECT_DOUBLE_EQ(e.lr_at(3), 1.0);
  EXPECT_DOUBLE_EQ(e.lr_at(4), 0.9);
  EXPECT_NEAR(e.lr_at(8), 0.81, 1e-15);
}

TEST(Schedule, CosineRunsFromBaseToMinimumOverAllSteps) {
  Schedule s(parse_schedule("cosine(min_lr=0.001)"), 0.1, 10, 3);  // 30 steps
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_NEAR(s.lr_at(15), 0.001 + (0.1 - 0.001) / 2, 1e-12);
  EXPECT_NEAR(s.lr_at(30), 0.001, 1e-12);
  for (int t = 1; t <= 30; ++t) EXPECT_LE(s.lr_at(t), s.lr_at(t - 1));
}

TEST(Schedule, WarmupRisesLinearlyThenFollowsTheSchedule) {
  Schedule s(parse_schedule("cosine(warmup=1)"), 0.2, 10, 4);
  EXPECT_NEAR(s.lr_at(0), 0.02, 1e-12);
  EXPECT_NEAR(s.lr_at(4), 0.1, 1e-12);
  EXPECT_NEAR(s.lr_at(9), 0.2, 1e-12);  // last warm-up step reaches the base rate
  EXPECT_NEAR(s.lr_at(10), 0.2, 1e-12);  // cosine starts after warm-up
  EXPECT_NEAR(s.lr_at(25), 0.1, 1e-12);  // half-way through the 30 cosine steps
}

TEST(Schedule, OneCycleMatchesPyTorchsEndpoints) {
  // OneCycleLR(max_lr=0.1, total_steps=100, pct_start=0.3, div_factor=25, final_div_factor=1e4)
  Schedule s(parse_schedule("onecycle(max_lr=0.1)"), 0.01, 25, 4);
  const double start = 0.1 / 25, end = start / 1e4;
  EXPECT_NEAR(s.lr_at(0), start, 1e-15);
  EXPECT_NEAR(s.lr_at(29), 0.1, 1e-15);  // phase end: pct_start·total − 1
  EXPECT_NEAR(s.lr_at(99), end, 1e-15);
  // torch: step 10 of phase 1 = cos anneal(start, max, 10/29)
  const double pct = 10.0 / 29.0;
  EXPECT_NEAR(s.lr_at(10), 0.1 + (start - 0.1) / 2 * (std::cos(std::numbers::pi * pct) + 1), 1e-15);
}

TEST(Schedule, PlateauReducesAfterPatienceAndResumesFromItsState) {
  Schedule s(parse_schedule("plateau(patience=1, factor=0.5)"), 0.1, 10, 20);
  s.end_epoch(1.0);  // best
  s.end_epoch(1.0);  // bad 1 (not better by 1e-4 relative)
  EXPECT_DOUBLE_EQ(s.lr_at(30), 0.1);
  s.end_epoch(0.99995);  // bad 2 > patience: reduce
  EXPECT_DOUBLE_EQ(s.lr_at(40), 0.05);
  Schedule copy(parse_schedule("plateau(patience=1, factor=0.5)"), 0.1, 10, 20);
  copy.set_state(s.state());
  s.end_epoch(0.5);
  copy.end_epoch(0.5);
  s.end_epoch(0.6);
  copy.end_epoch(0.6);
  s.end_epoch(0.6);
  copy.end_epoch(0.6);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.025);
  EXPECT_DOUBLE_EQ(copy.lr_at(0), s.lr_at(0));
}

TEST(Schedule, ParserRefusesWhatItDoesNotKnow) {
  for (const char* bad : {"linear", "step(0)", "cosine(min_lr=-1)", "onecycle(pct_start=1)", "plateau(x=1)",
                          "step(2) cosine", "", "exp(nan)", "cosine(warmup=inf)"})
    EXPECT_THROW(parse_schedule(bad), Error) << bad;
  EXPECT_EQ(parse_schedule("reduce-on-plateau").kind, "plateau");
  EXPECT_EQ(parse_schedule("exponential(0.5)").gamma, 0.5);
}

}  // namespace
}  // namespace mnistcnn
