#include "augment_args.h"

#include <utility>
#include <vector>

#include "mnistcnn/core/error.h"

namespace mnistcnn::cli {

namespace {

// (flag, setting key, member) for the per-transform flags.
struct Flag {
  const char* flag;
  const char* key;
  std::string AugmentArgs::*value;
  const char* help;
};

const std::vector<Flag>& flags() {
  static const std::vector<Flag> f = {
      {"--rotate", "rotate", &AugmentArgs::rotate, "random rotation up to ±DEG degrees"},
      {"--scale", "scale", &AugmentArgs::scale, "random zoom LO:HI, e.g. 0.9:1.1"},
      {"--translate", "translate", &AugmentArgs::translate, "random shift up to ±PX whole pixels per axis"},
      {"--shear", "shear", &AugmentArgs::shear, "random x-shear up to ±DEG degrees"},
      {"--elastic", "elastic", &AugmentArgs::elastic, "probability of an elastic distortion (Simard et al.)"},
      {"--elastic-alpha", "elastic_alpha", &AugmentArgs::elastic_alpha, "elastic displacement scale (default 34)"},
      {"--elastic-sigma", "elastic_sigma", &AugmentArgs::elastic_sigma, "elastic smoothing in pixels (default 4)"},
      {"--thickness", "thickness", &AugmentArgs::thickness, "probability of thinner or thicker strokes"},
      {"--erase", "erase", &AugmentArgs::erase, "probability of erasing a random rectangle"},
      {"--erase-fill", "erase_fill", &AugmentArgs::erase_fill, "erased pixels: zero | random"},
  };
  return f;
}

}  // namespace

void add_augment_options(CLI::App* cmd, AugmentArgs& a) {
  const std::string group = "Augmentation (training images only, drawn per image and epoch from --seed)";
  cmd->add_option("--augment", a.augment,
                  "none | light | standard | strong, optionally with overrides: standard,rotate=15,elastic=0.3")
      ->group(group)
      ->capture_default_str();
  for (const Flag& f : flags()) cmd->add_option(f.flag, a.*f.value, f.help)->group(group);
}

data::AugmentOptions resolve_augment(const AugmentArgs& a) {
  data::AugmentOptions opt;
  try {
    opt = data::parse_augment(a.augment);
  } catch (const Error& e) {
    throw Error(std::string("--augment: ") + e.what());
  }
  for (const Flag& f : flags()) {
    const std::string& value = a.*f.value;
    if (value.empty()) continue;
    try {
      data::set_augment_option(opt, f.key, value);
    } catch (const Error& e) {
      throw Error(std::string(f.flag) + ": " + e.what());
    }
  }
  try {
    data::validate_augment(opt);
  } catch (const Error& e) {
    throw Error(std::string("augmentation flags: ") + e.what());
  }
  return opt;
}

}  // namespace mnistcnn::cli
