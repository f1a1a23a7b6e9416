// Elementwise activations and row softmax. Forward writes y from x; backward writes
// dx from dy and whichever of x/y the derivative is cheapest in (overwrites dx).
#pragma once
#include <cstdint>

namespace mnistcnn::kernels {

void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);  // y > 0 passes
void sigmoid_forward(const float* x, float* y, int64_t n);
void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n);
void tanh_forward(const float* x, float* y, int64_t n);
void tanh_backward(const float* y, const float* dy, float* dx, int64_t n);
// x > 0 ? x : slope·x; the derivative from x (a negative slope flips the sign of y).
void leaky_relu_forward(const float* x, float* y, int64_t n, float slope);
void leaky_relu_backward(const float* x, const float* dy, float* dx, int64_t n, float slope);
// x > 0 ? x : alpha·(eˣ − 1); the derivative for x ≤ 0 is y + alpha.
void elu_forward(const float* x, float* y, int64_t n, float alpha);
void elu_backward(const float* x, const float* y, const float* dy, float* dx, int64_t n, float alpha);
// x·Φ(x) with Φ the standard normal CDF, Φ(x) = (1 + erf(x/√2))/2; derivative Φ(x) + x·φ(x).
void gelu_forward(const float* x, float* y, int64_t n);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n);

// Softmax over each of the R rows of length C (max-subtracted, stable).
void softmax_rows(const float* x, float* y, int64_t R, int64_t C);
// dx = y ⊙ (dy − Σ dy⊙y) per row.
void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t R, int64_t C);

}  // namespace mnistcnn::kernels
