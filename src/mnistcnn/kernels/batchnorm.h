// Batch normalisation math, per channel. Legend: N batch, C channels, S positions per
// channel (H*W for N×C×H×W, 1 for N×F), M = N*S values per channel; x, y, dy, dx are
// N×C×S. Channels run in parallel; each channel's sums are taken in one fixed order (in
// double), so results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "mnistcnn/kernels/fuse.h"

namespace mnistcnn::kernels {

struct BnDims {
  int64_t N, C, S;
  int64_t M() const { return N * S; }
};

// mean[c] and the biased variance var[c] (divided by M) of each channel (two passes).
void batchnorm_stats(const float* x, const BnDims& d, float* mean, float* var);
// The same with every sum a plain serial double loop: the specification the SIMD-blocked
// version is tested against.
void batchnorm_stats_ref(const float* x, const BnDims& d, float* mean, float* var);

// y = (x − mean[c]) · invstd[c] · gamma[c] + beta[c]; gamma/beta null mean 1 and 0.
// Fused layers (kernels/fuse.h) run on each plane of S = H·W values (W: its width); y
// and argmax then hold N×C planes of fused_plane_size.
void batchnorm_apply(const float* x, const BnDims& d, const float* mean, const float* invstd,
                     const float* gamma, const float* beta, float* y, Fuse fuse = Fuse::None,
                     int64_t W = 1, int32_t* argmax = nullptr);

// Backward of batchnorm_apply with x̂ = (x − mean)·invstd. With batch_stats (mean and
// invstd were this batch's, as in training) dx includes their dependence on x:
//   dx = γ·invstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)),
// otherwise (running statistics) dx = γ·invstd·dy. dx (if non-null) is overwritten;
// dgamma += Σ dy·x̂ and dbeta += Σ dy (each if non-null) accumulate. After a fused
// apply, y and argmax are its outputs and dy is y's gradient; each channel's goes back
// through the fused layers first (in cache, per channel), with the same bits.
void batchnorm_backward(const float* x, const float* dy, const BnDims& d, const float* mean,
                        const float* invstd, const float* gamma, bool batch_stats, float* dx,
                        float* dgamma, float* dbeta, Fuse fuse = Fuse::None, const float* y = nullptr,
                        int64_t W = 1, const int32_t* argmax = nullptr);
void batchnorm_backward_ref(const float* x, const float* dy, const BnDims& d, const float* mean,
                            const float* invstd, const float* gamma, bool batch_stats, float* dx,
                            float* dgamma, float* dbeta);

}  // namespace mnistcnn::kernels
