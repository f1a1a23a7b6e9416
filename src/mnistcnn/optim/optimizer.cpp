#include "mnistcnn/optim/optimizer.h"

#include <cmath>

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"

namespace mnistcnn::optim {

// Updates are per element, so splitting a tensor between threads (from
// kernels::kMinParallelValues elements on) changes no bits. The loops vectorise: the
// build has -fno-math-errno, so std::sqrt is an instruction.
using kernels::kMinParallelValues;

Optimizer::Optimizer(std::vector<nn::Param*> params, double lr) : params_(std::move(params)), lr_(lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) throw Error("optimizer: learning rate must be a finite number >= 0");
}

void Optimizer::zero_grad() {
  for (nn::Param* p : params_) p->grad.zero();
}

double Optimizer::lr_multiplier(const std::string& param) const {
  const auto it = lr_mult_.find(param);
  return it == lr_mult_.end() ? 1.0 : it->second;
}

Tensor& Optimizer::slot(const nn::Param& p, const std::string& slot) {
  auto [it, inserted] = state_.try_emplace(p.name + "/" + slot);
  if (inserted || it->second.shape() != p.value.shape()) it->second = Tensor(p.value.shape());
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
  for (nn::Param* p : params_) {
    if (!p->learnable()) continue;
    const bool first = count_step(*p) == 1;
    const float lr = static_cast<float>(lr_ * lr_multiplier(p->name));
    float* w = p->value.data();
    const float* g = p->grad.data();
    const int64_t n = p->value.numel();
    if (mu == 0.0f) {
      kernels::parallel_region(n >= kMinParallelValues, [&] {
#pragma omp for simd schedule(static)
        for (int64_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + wd * w[i]);
      });
      continue;
    }
    const bool fresh = first || !state_.count(p->name + "/momentum_buffer");
    float* b = slot(*p, "momentum_buffer").data();
    const bool nesterov = opt_.nesterov;
    kernels::parallel_region(n >= kMinParallelValues, [&] {
#pragma omp for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * w[i];
        b[i] = fresh ? gi : mu * b[i] + damp * gi;
        w[i] -= lr * (nesterov ? gi + mu * b[i] : b[i]);
      }
    });
  }
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
  for (nn::Param* p : params_) {
    if (!p->learnable()) continue;
    const auto t = static_cast<double>(count_step(*p));
    const double lr = lr_ * lr_multiplier(p->name);
    const double bc1 = 1.0 - std::pow(opt_.beta1, t);
    const double bc2 = 1.0 - std::pow(opt_.beta2, t);
    const float step_size = static_cast<float>(lr / bc1);
    const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    // Denominator √v·c + e: PyTorch c = 1/√bc2, e = eps; Keras (√v + eps)/√bc2.
    const float eps_term = opt_.epsilon_hat ? eps * inv_sqrt_bc2 : eps;
    const float decay = static_cast<float>(1.0 - lr * opt_.weight_decay);
    float* w = p->value.data();
    const float* g = p->grad.data();
    float* m = slot(*p, "exp_avg").data();
    float* v = slot(*p, "exp_avg_sq").data();
    const int64_t n = p->value.numel();
    // Weight decay goes into the gradient (Adam) or shrinks the weights (AdamW): both as
    // factors (one of them 0 or 1) in one branch-free loop, which GCC vectorises; with an
    // if inside, it vectorised only one form.
    const float wd_in_grad = opt_.decoupled ? 0.0f : wd, shrink = opt_.decoupled ? decay : 1.0f;
    kernels::parallel_region(n >= kMinParallelValues, [&] {
#pragma omp for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd_in_grad * w[i];
        w[i] *= shrink;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps_term);
      }
    });
  }
}

}  // namespace mnistcnn::optim
