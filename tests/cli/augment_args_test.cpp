// The augmentation flags (apps/mnistcnn/augment_args.h) on a throw-away CLI11 app: the
// preset and per-transform flags combine in order, and bad values name the flag.
#include "augment_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mnistcnn/core/error.h"

namespace mnistcnn {
namespace {

data::AugmentOptions parse(std::vector<std::string> args) {
  CLI::App app("test");
  cli::AugmentArgs a;
  cli::add_augment_options(&app, a);
  args.insert(args.begin(), "prog");
  std::vector<const char*> argv;
  for (const auto& s : args) argv.push_back(s.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return cli::resolve_augment(a);
}

std::string error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(AugmentArgs, DefaultIsNone) { EXPECT_FALSE(parse({}).any()); }

TEST(AugmentArgs, FlagsOverrideThePreset) {
  const auto o = parse({"--augment", "standard,shear=5", "--rotate", "15", "--scale", "0.8:1.2", "--erase", "0.5",
                        "--erase-fill", "random", "--elastic-alpha", "20"});
  EXPECT_EQ(o.rotate, 15.0f);
  EXPECT_EQ(o.scale_min, 0.8f);
  EXPECT_EQ(o.scale_max, 1.2f);
  EXPECT_EQ(o.shear, 5.0f);
  EXPECT_EQ(o.translate, 2.0f);
  EXPECT_EQ(o.erase_p, 0.5f);
  EXPECT_TRUE(o.erase_random);
  EXPECT_EQ(o.elastic_alpha, 20.0f);
  EXPECT_EQ(data::augment_to_string(o),
            "none,rotate=15,translate=2,shear=5,elastic_alpha=20,erase=0.5,scale=0.8:1.2,erase_fill=random");
  // A flag alone turns its transform on.
  EXPECT_EQ(parse({"--thickness", "0.4"}).thickness_p, 0.4f);
}

TEST(AugmentArgs, BadValuesNameTheFlag) {
  EXPECT_EQ(error_of({"--rotate", "500"}).rfind("--rotate: augmentation setting rotate=500", 0), 0u)
      << error_of({"--rotate", "500"});
  EXPECT_EQ(error_of({"--augment", "heavy"}).rfind("--augment: unknown augmentation preset 'heavy'", 0), 0u);
  EXPECT_NE(error_of({"--scale", "1.1:0.9"}).find("--scale"), std::string::npos);
  EXPECT_NE(error_of({"--erase-fill", "grey"}).find("--erase-fill"), std::string::npos);
  EXPECT_NE(error_of({"--elastic", "-0.1"}).find("--elastic: "), std::string::npos);
}

}  // namespace
}  // namespace mnistcnn
