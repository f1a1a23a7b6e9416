// Weight constraints applied after an optimizer step. max-norm is Keras' MaxNorm: each
// output unit's fan-in vector (a dense row, a conv filter over C×KH×KW) is rescaled to
// an L2 norm of at most max_norm, as in Srivastava et al. (2014)'s dropout networks.
#pragma once
#include <cstdint>
#include <vector>

#include "mnistcnn/nn/layer.h"

namespace mnistcnn::optim {

// Applies w ← w · min(‖w‖, max_norm) / (‖w‖ + 1e-7) per output unit (Keras' exact form,
// epsilon included) to every learnable parameter of rank ≥ 2: conv weights OC×C×KH×KW
// and dense weights out×in. Biases, batch-norm scales and buffers (rank 1) and frozen
// parameters are left alone. Returns the number of units whose norm exceeded max_norm.
// Throws Error unless max_norm is a finite number > 0.
int64_t apply_max_norm(const std::vector<nn::Param*>& params, double max_norm);

}  // namespace mnistcnn::optim
