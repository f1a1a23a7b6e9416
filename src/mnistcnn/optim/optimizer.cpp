#include "mnistcnn/optim/optimizer.h"

#include <algorithm>
#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::optim {

// Updates are per element, so splitting tensors between threads (from
// kernels::kMinParallelValues elements in all on) changes no bits. The loops vectorise: the
// build has -fno-math-errno, so std::sqrt is an instruction.
using kernels::kMinParallelValues;

namespace {
// Every parameter's update in one parallel region, each tensor's elements shared out
// among the threads with no barrier between tensors (nowait: they are independent): one
// region and one barrier a step, not one for each tensor over kMinParallelValues and the
// rest (keras-mnist's every tensor, lenet's all but one) on the calling thread while the
// others wait.
template <class Update, class Apply>
void run_updates(int64_t total, const std::vector<Update>& updates, Apply&& apply) {
  kernels::parallel_region(total >= kMinParallelValues, [&] {
    for (const Update& u : updates) apply(u);
  });
}
}  // namespace

Optimizer::Optimizer(std::vector<nn::Param*> params, double lr) : params_(std::move(params)), lr_(lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) throw Error("optimizer: learning rate must be a finite number >= 0");
}

void Optimizer::zero_grad() {
  // Shared out among the threads (lenet's 62k gradients: 9.3 -> 6.3 us a step on two).
  kernels::for_each_piece(
      static_cast<int64_t>(params_.size()), [&](int64_t k) { return params_[k]->grad.numel(); },
      [&](int64_t k, int64_t lo, int64_t hi) {
        float* g = params_[k]->grad.data();
        std::fill(g + lo, g + hi, 0.0f);
      });
}

double Optimizer::lr_multiplier(const std::string& param) const {
  const auto it = lr_mult_.find(param);
  return it == lr_mult_.end() ? 1.0 : it->second;
}

Tensor& Optimizer::slot(const nn::Param& p, const char* slot, bool* created) {
  key_.assign(p.name).append("/").append(slot);
  auto it = state_.find(key_);
  const bool missing = it == state_.end();
  if (missing) it = state_.emplace(key_, Tensor()).first;
  if (created) *created = missing;
  if (missing || it->second.shape() != p.value.shape()) it->second = Tensor(p.value.shape());
  return it->second;
}

Sgd::Sgd(std::vector<nn::Param*> params, const SgdOptions& opt) : Optimizer(std::move(params), opt.lr), opt_(opt) {
  if (opt.momentum < 0.0 || opt.weight_decay < 0.0 || opt.dampening < 0.0)
    throw Error("sgd: momentum, dampening and weight decay must be >= 0");
  if (opt.nesterov && (opt.momentum <= 0.0 || opt.dampening != 0.0))
    throw Error("sgd: Nesterov momentum needs momentum > 0 and zero dampening");
}

void Sgd::step() {
  ++step_;
  const float mu = static_cast<float>(opt_.momentum), wd = static_cast<float>(opt_.weight_decay),
              damp = 1.0f - static_cast<float>(opt_.dampening);
  updates_.clear();
  int64_t total = 0;
  for (nn::Param* p : params_) {
    if (!p->learnable()) continue;
    const bool first = count_step(*p) == 1;
    Update u{p->value.data(), p->grad.data(), nullptr, p->value.numel(),
             static_cast<float>(lr_ * lr_multiplier(p->name)), false};
    if (mu != 0.0f) {
      bool created = false;
      u.b = slot(*p, "momentum_buffer", &created).data();
      u.fresh = first || created;
    }
    updates_.push_back(u);
    total += u.n;
  }
  const bool nesterov = opt_.nesterov;
  run_updates(total, updates_, [&](const Update& u) {
    // Local copies: read through the closure, GCC reloaded (gathered) them every
    // iteration, as the stores might change them.
    float* __restrict w = u.w;
    const float* __restrict g = u.g;
    const float lr = u.lr, mu_ = mu, wd_ = wd, damp_ = damp;
    const int64_t n = u.n;
    const bool nesterov_ = nesterov;
    if (!u.b) {
#pragma omp for simd schedule(static) nowait
      for (int64_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + wd_ * w[i]);
      return;
    }
    float* __restrict b = u.b;
    const bool fresh = u.fresh;
#pragma omp for simd schedule(static) nowait
    for (int64_t i = 0; i < n; ++i) {
      const float gi = g[i] + wd_ * w[i];
      b[i] = fresh ? gi : mu_ * b[i] + damp_ * gi;
      w[i] -= lr * (nesterov_ ? gi + mu_ * b[i] : b[i]);
    }
  });
}

Adam::Adam(std::vector<nn::Param*> params, const AdamOptions& opt) : Optimizer(std::move(params), opt.lr), opt_(opt) {
  if (!(opt.beta1 >= 0.0 && opt.beta1 < 1.0 && opt.beta2 >= 0.0 && opt.beta2 < 1.0))
    throw Error("adam: betas must be in [0, 1)");
  if (!(opt.eps > 0.0) || opt.weight_decay < 0.0) throw Error("adam: eps must be > 0 and weight decay >= 0");
}

void Adam::step() {
  ++step_;
  const float b1 = static_cast<float>(opt_.beta1), b2 = static_cast<float>(opt_.beta2);
  const float eps = static_cast<float>(opt_.eps), wd = static_cast<float>(opt_.weight_decay);
  updates_.clear();
  int64_t total = 0;
  for (nn::Param* p : params_) {
    if (!p->learnable()) continue;
    const auto t = static_cast<double>(count_step(*p));
    const double lr = lr_ * lr_multiplier(p->name);
    const double bc1 = 1.0 - std::pow(opt_.beta1, t);
    const double bc2 = 1.0 - std::pow(opt_.beta2, t);
    const auto inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    // Denominator √v·c + e: PyTorch c = 1/√bc2, e = eps; Keras (√v + eps)/√bc2.
    // Weight decay goes into the gradient (Adam) or shrinks the weights (AdamW): both as
    // factors (one of them 0 or 1) in one branch-free loop, which GCC vectorises; with an
    // if inside, it vectorised only one form.
    const auto decay = static_cast<float>(1.0 - lr * opt_.weight_decay);
    updates_.push_back({p->value.data(), p->grad.data(), slot(*p, "exp_avg").data(), slot(*p, "exp_avg_sq").data(),
                       p->value.numel(), static_cast<float>(lr / bc1), inv_sqrt_bc2,
                       opt_.epsilon_hat ? eps * inv_sqrt_bc2 : eps, opt_.decoupled ? 0.0f : wd,
                       opt_.decoupled ? decay : 1.0f});
    total += updates_.back().n;
  }
  run_updates(total, updates_, [&](const Update& u) {
    float* __restrict w = u.w;
    const float* __restrict g = u.g;
    float* __restrict m = u.m;
    float* __restrict v = u.v;
    const float step_size = u.step_size, inv_sqrt_bc2 = u.inv_sqrt_bc2, eps_term = u.eps_term;
    const float wd_in_grad = u.wd_in_grad, shrink = u.shrink, beta1 = b1, beta2 = b2;
    const int64_t n = u.n;
#pragma omp for simd schedule(static) nowait
    for (int64_t i = 0; i < n; ++i) {
      const float gi = g[i] + wd_in_grad * w[i];
      w[i] *= shrink;
      m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
      v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
      w[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps_term);
    }
  });
}

}  // namespace mnistcnn::optim
