// The search space of `mnistcnn search`: train flags with lists of values (a grid, as
// sklearn's GridSearchCV) or distributions (log-uniform, uniform, integer, choice: as
// Optuna's suggest_* and sklearn's RandomizedSearchCV), and the configurations drawn from them.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mnistcnn::search {

struct SearchParam {
  enum class Kind { Choice, Log, Uniform, Int };
  std::string name;  // the train flag without its dashes: "lr", "batch-size"
  Kind kind = Kind::Choice;
  std::vector<std::string> values;  // Choice
  double lo = 0, hi = 0;            // Log, Uniform, Int (inclusive)
};

// --grid "NAME=V1,V2,..." (the values as train reads them), or "NAME=V1|V2|..." when
// values hold commas ("arch=conv(8,3) relu flatten dense(10)|conv(16,3) ..."). Errors
// name the flag and the problem (no '=', empty list, empty value).
SearchParam parse_grid(const std::string& text);
// --param "NAME=log:LO:HI" | "uniform:LO:HI" | "int:LO:HI" | "choice:V1,V2,..." (or V1|V2).
// Errors: an unknown distribution, LO > HI, LO <= 0 for log, non-numbers.
SearchParam parse_param(const std::string& text);
// A name train may be given: letters, digits and dashes (leading "--" dropped).
std::string check_name(const std::string& name, const std::string& flag);

// One configuration: (flag name, value text) in the order the parameters were given.
using Config = std::vector<std::pair<std::string, std::string>>;

// The cartesian product of Choice parameters, the last one varying fastest. Duplicate
// names are errors; so is a distribution (grid search needs lists).
std::vector<Config> grid_configs(const std::vector<SearchParam>& params);
// n configurations drawn with `seed` (lists drawn uniformly, like sklearn's
// ParameterSampler). Duplicates are redrawn; when the space has fewer than n distinct
// configurations, all of them are returned (in the order first drawn).
std::vector<Config> random_configs(const std::vector<SearchParam>& params, int n, uint64_t seed);

// {"--lr=0.001", "--batch-size=32"}: one token per flag, so that values starting with '-'
// stay values.
std::vector<std::string> config_args(const Config& c);
// "lr=0.001 batch-size=32" for tables and logs.
std::string config_text(const Config& c);
// A drawn number with 4 significant digits ("0.0003162"); integers exact.
std::string format_value(double v);

}  // namespace mnistcnn::search
