// The augmentation flags shared by the training subcommands: --augment PRESET[,key=value]
// plus one flag per transform, resolved through the library's parser (data/augment.h)
// so the flags, the text form and a model's provenance say the same thing.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "mnistcnn/data/augment.h"

namespace mnistcnn::cli {

struct AugmentArgs {
  std::string augment = "none";
  // Per-transform overrides of the preset; empty: the preset's value.
  std::string rotate, scale, translate, shear, elastic, elastic_alpha, elastic_sigma, thickness, erase, erase_fill;
};

// Adds --augment, --rotate, --scale, --translate, --shear, --elastic, --elastic-alpha,
// --elastic-sigma, --thickness, --erase and --erase-fill to `cmd`, in an "Augmentation"
// group of the help.
void add_augment_options(CLI::App* cmd, AugmentArgs& a);

// The preset, then each flag given, in that order; throws Error naming the flag
// ("--rotate: augmentation setting rotate=500: expected a number in [0, 180] (degrees)").
data::AugmentOptions resolve_augment(const AugmentArgs& a);

}  // namespace mnistcnn::cli
