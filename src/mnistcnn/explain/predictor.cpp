#include "mnistcnn/explain/predictor.h"

#include <algorithm>

#include "mnistcnn/core/error.h"
#include "mnistcnn/explain/classify.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::explain {

Predictor::Predictor(io::LoadedModel model, const PredictorOptions& options, const std::string& name)
    : master_(std::move(model.net)), info_(std::move(model.info)) {
  require_digit_model(info_, name);
  const Shape out = master_.shapes(1)[master_.logits_end() - 1];
  if (out.rank() != 2) throw Error(name + ": the network ends in " + out.str() + ", not class scores");
  classes_ = io::class_names(info_, out[1]);
  if (static_cast<int64_t>(classes_.size()) != out[1])
    throw Error(name + ": " + std::to_string(classes_.size()) + " class names for " + std::to_string(out[1]) + " outputs");
  for (nn::Param* p : master_.params()) {
    params_ += p->value.numel();
    p->trainable = false;  // clones then skip every parameter gradient in explain's backward
  }
  max_models_ = options.max_concurrent > 0 ? options.max_concurrent : kernels::hardware_threads();
  threads_per_call_ = std::max(1, options.threads_per_call);
}

Predictor Predictor::load(const std::string& path, const PredictorOptions& options) {
  return Predictor(io::load_model(path), options, path);
}

std::unique_ptr<nn::Sequential> Predictor::borrow() const {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || created_ < max_models_; });
  if (!idle_.empty()) {
    auto net = std::move(idle_.back());
    idle_.pop_back();
    return net;
  }
  ++created_;
  lock.unlock();
  try {
    return std::make_unique<nn::Sequential>(master_.clone());
  } catch (...) {
    lock.lock();
    --created_;
    available_.notify_one();
    throw;
  }
}

void Predictor::give_back(std::unique_ptr<nn::Sequential> net) const {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(net));
  }
  available_.notify_one();
}

Prediction Predictor::predict(const data::DigitImage& digit, bool explain) const {
  Prediction p;
  p.input = model_view(digit, info_.normalization);  // what the network sees, for the page to show
  p.blank = digit.blank;
  if (p.blank) return p;
  // Returned to the pool however we leave, exceptions included.
  struct Lease {
    const Predictor* owner;
    std::unique_ptr<nn::Sequential> net;
    ~Lease() { if (net) owner->give_back(std::move(net)); }
  } lease{this, borrow()};
  kernels::ThreadCountScope threads(threads_per_call_);
  const Tensor x = views_to_input({&p.input, 1}, info_.normalization);
  const Tensor probs = class_probabilities(*lease.net, x);
  p.probabilities.assign(probs.data(), probs.data() + probs.numel());
  p.label = static_cast<int>(std::max_element(p.probabilities.begin(), p.probabilities.end()) - p.probabilities.begin());
  if (explain) p.attribution = attribute(*lease.net, x, p.label);
  return p;
}

}  // namespace mnistcnn::explain
