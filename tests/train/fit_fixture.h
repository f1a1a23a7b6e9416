// What the training tests share: a tiny synthetic dataset that training can learn, a
// small network with dropout, a seeded optimizer and schedule, and the weights as floats.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "mnistcnn/data/loader.h"
#include "mnistcnn/nn/sequential.h"
#include "mnistcnn/optim/optimizer.h"
#include "mnistcnn/optim/schedule.h"
#include "mnistcnn/train/presets.h"

namespace mnistcnn {

// 160 random 12×12 "images" whose label is a function of their pixels, so training learns.
inline data::Dataset synthetic_data() {
  data::Dataset d;
  d.rows = d.cols = 12;
  Rng rng(3, 0);
  for (int i = 0; i < 160; ++i) {
    int sum = 0;
    for (int p = 0; p < 144; ++p) {
      const auto v = static_cast<uint8_t>(rng.below(256));
      d.images.push_back(v);
      if (p < 12) sum += v;
    }
    d.labels.push_back(static_cast<uint8_t>((sum / 200) % 10));
  }
  return d;
}

inline const char* kNet = "conv(4,3) relu maxpool(2) flatten dropout(0.3) dense(16) relu dense(10)";

struct TrainingSetup {
  nn::Sequential net;
  std::unique_ptr<optim::Optimizer> opt;
  optim::Schedule schedule;
};

inline TrainingSetup make_run(const std::string& optimizer, const std::string& schedule, int64_t batches, int epochs) {
  TrainingSetup r{nn::Sequential::from_spec(kNet, {1, 12, 12}), nullptr, {}};
  r.net.init(nn::Init::Torch, 7);
  train::Recipe recipe;
  recipe.optimizer = optimizer;
  recipe.lr = optimizer == "sgd" ? 0.05 : 2e-3;
  recipe.momentum = optimizer == "sgd" ? 0.9 : 0.0;
  r.opt = train::make_optimizer(recipe, r.net.params());
  r.schedule = optim::Schedule(optim::parse_schedule(schedule), recipe.lr, batches, epochs);
  return r;
}

inline std::vector<float> weights(nn::Sequential& net) {
  std::vector<float> w;
  for (nn::Param* p : net.params()) w.insert(w.end(), p->value.data(), p->value.data() + p->value.numel());
  return w;
}

}  // namespace mnistcnn
