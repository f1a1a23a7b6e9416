// Predictor: a loaded digit model that many threads may query at once. predict() is
// const and thread-safe: each call borrows one of a pool of independent copies of the
// network (Sequential::clone), so the server loads the model once and answers requests
// concurrently without locking the network itself.
#pragma once
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mnistcnn/data/digit_image.h"
#include "mnistcnn/explain/attribution.h"
#include "mnistcnn/io/model_file.h"

namespace mnistcnn::explain {

struct PredictorOptions {
  // Copies of the network, i.e. predictions running at once; more callers wait for a free
  // one. 0: one per core.
  int max_concurrent = 0;
  // OpenMP threads each call uses. One image is too little work to share between cores,
  // and several callers each running a full team would oversubscribe them.
  int threads_per_call = 1;
};

struct Prediction {
  bool blank = false;                // no digit in the picture: no label, no probabilities
  int label = -1;                    // index of the most probable class
  std::vector<float> probabilities;  // one per class, summing to 1
  data::DigitImage input;            // the 28×28 image the network saw
  Attribution attribution;           // only when asked for (and not blank)
};

class Predictor {
 public:
  // Takes over a loaded model; throws Error unless it classifies 1×28×28 images.
  explicit Predictor(io::LoadedModel model, const PredictorOptions& options = {}, const std::string& name = "model");
  static Predictor load(const std::string& path, const PredictorOptions& options = {});

  // Classifies one digit already in MNIST's form; with `explain`, also the saliency and
  // Grad-CAM maps for the predicted class. Safe to call from any number of threads.
  Prediction predict(const data::DigitImage& digit, bool explain = false) const;

  const io::ModelInfo& info() const { return info_; }
  const std::vector<std::string>& class_names() const { return classes_; }
  const nn::Sequential& network() const { return master_; }  // read-only: shapes, spec
  int64_t param_count() const { return params_; }
  int max_concurrent() const { return max_models_; }

 private:
  std::unique_ptr<nn::Sequential> borrow() const;
  void give_back(std::unique_ptr<nn::Sequential> net) const;

  nn::Sequential master_;  // never run: only cloned
  io::ModelInfo info_;
  std::vector<std::string> classes_;
  int64_t params_ = 0;
  int max_models_ = 1, threads_per_call_ = 1;

  mutable std::mutex mutex_;
  mutable std::condition_variable available_;
  mutable std::vector<std::unique_ptr<nn::Sequential>> idle_;
  mutable int created_ = 0;
};

}  // namespace mnistcnn::explain
