// The search space: --grid/--param parsing and its errors, the grid's cartesian product,
// seeded random draws within their ranges, and shell-like splitting of --base.
#include "mnistcnn/search/space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "mnistcnn/search/args.h"
#include "support/error_of.h"

namespace mnistcnn {
namespace {

using search::Config;
using testing::error_of;

TEST(SearchSpace, GridIsTheCartesianProductLastVaryingFastest) {
  const auto configs = search::grid_configs({search::parse_grid("lr=3e-4, 1e-3,3e-3"), search::parse_grid("--batch-size=32,128")});
  ASSERT_EQ(configs.size(), 6u);
  EXPECT_EQ(configs[0], (Config{{"lr", "3e-4"}, {"batch-size", "32"}}));
  EXPECT_EQ(configs[1], (Config{{"lr", "3e-4"}, {"batch-size", "128"}}));
  EXPECT_EQ(configs[5], (Config{{"lr", "3e-3"}, {"batch-size", "128"}}));
  std::set<std::string> distinct;
  for (const auto& c : configs) distinct.insert(search::config_text(c));
  EXPECT_EQ(distinct.size(), 6u);
  EXPECT_EQ(search::config_args(configs[0]), (std::vector<std::string>{"--lr=3e-4", "--batch-size=32"}));
}

TEST(SearchSpace, ValuesWithCommasAreSeparatedByBars) {
  const auto p = search::parse_grid("arch=conv(4,3) relu flatten dense(10) | conv(8,3) relu flatten dense(10)");
  EXPECT_EQ(p.values, (std::vector<std::string>{"conv(4,3) relu flatten dense(10)", "conv(8,3) relu flatten dense(10)"}));
  EXPECT_EQ(search::parse_param("augment=choice:light|standard,rotate=15").values,
            (std::vector<std::string>{"light", "standard,rotate=15"}));
}

TEST(SearchSpace, RandomDrawsAreSeededAndInRange) {
  const std::vector<search::SearchParam> params = {
      search::parse_param("lr=log:1e-4:1e-2"), search::parse_param("batch-size=int:16:64"),
      search::parse_param("label-smoothing=uniform:0:0.2"), search::parse_param("optimizer=choice:adam,sgd")};
  const auto a = search::random_configs(params, 50, 7), b = search::random_configs(params, 50, 7);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, search::random_configs(params, 50, 8));
  ASSERT_EQ(a.size(), 50u);
  int below_1e3 = 0;
  std::set<std::string> optimizers;
  for (const Config& c : a) {
    const double lr = std::stod(c[0].second), bs = std::stod(c[1].second), ls = std::stod(c[2].second);
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-2);
    below_1e3 += lr < 1e-3;
    EXPECT_GE(bs, 16);
    EXPECT_LE(bs, 64);
    EXPECT_EQ(bs, std::floor(bs));
    EXPECT_GE(ls, 0);
    EXPECT_LE(ls, 0.2);
    optimizers.insert(c[3].second);
  }
  // Log-uniform: half the draws fall in the lower decade (measured 26 of 50 with seed 7).
  EXPECT_GT(below_1e3, 15);
  EXPECT_LT(below_1e3, 35);
  EXPECT_EQ(optimizers, (std::set<std::string>{"adam", "sgd"}));
}

TEST(SearchSpace, RandomSearchDrawsNoDuplicateAndStopsWhenTheSpaceIsExhausted) {
  const auto configs = search::random_configs({search::parse_grid("lr=1,2"), search::parse_param("seed=int:1:2")}, 10, 1);
  EXPECT_EQ(configs.size(), 4u);
}

TEST(SearchSpace, ParseErrorsNameTheFlagAndProblem) {
  EXPECT_NE(error_of([] { search::parse_grid("lr"); }).find("--grid 'lr'"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_grid("lr="); }).find("empty value"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_grid("lr=1,,2"); }).find("empty value"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_grid("l r=1"); }).find("not a train flag name"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("lr=log:0:1"); }).find("LO > 0"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("lr=log:-1:1"); }).find("LO > 0"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("lr=uniform:2:1"); }).find("LO is greater than HI"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("lr=normal:0:1"); }).find("unknown distribution"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("lr=log:a:1"); }).find("not a number"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("lr=log:1"); }).find("LO:HI"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("epochs=int:1.5:3"); }).find("integers"), std::string::npos);
  EXPECT_NE(error_of([] { search::parse_param("lr"); }).find("NAME=KIND"), std::string::npos);
  EXPECT_NE(error_of([] { search::grid_configs({search::parse_grid("lr=1"), search::parse_grid("lr=2")}); })
                .find("searched twice"),
            std::string::npos);
  EXPECT_NE(error_of([] { search::grid_configs({search::parse_param("lr=log:1e-4:1")}); }).find("--random"),
            std::string::npos);
}

TEST(SearchArgs, SplitsLikeAShellAndQuotesBack) {
  const auto words = search::split_args("--arch 'conv(4,3) relu' --lr=1e-3  \"a b\"c d\\ e");
  EXPECT_EQ(words, (std::vector<std::string>{"--arch", "conv(4,3) relu", "--lr=1e-3", "a bc", "d e"}));
  EXPECT_EQ(search::split_args(search::join_args(words)), words);
  EXPECT_EQ(search::quote_arg("it's"), "'it'\\''s'");
  EXPECT_NE(error_of([] { search::split_args("--arch 'conv"); }).find("unclosed"), std::string::npos);
  EXPECT_TRUE(search::has_flag(words, "lr"));
  EXPECT_FALSE(search::has_flag(words, "l"));
  EXPECT_EQ(search::flag_value(words, "arch").value(), "conv(4,3) relu");
  EXPECT_EQ(search::flag_value(words, "lr").value(), "1e-3");
  EXPECT_FALSE(search::flag_value(words, "schedule").has_value());
}

}  // namespace
}  // namespace mnistcnn
