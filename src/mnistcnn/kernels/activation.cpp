#include "mnistcnn/kernels/activation.h"
#include "mnistcnn/kernels/parallel.h"

#include <cmath>

namespace mnistcnn::kernels {

void relu_forward(const float* x, float* y, int64_t n) {
  parallel_region(n > 65536, [&] {
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  });
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  parallel_region(n > 65536, [&] {
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float g = dy[i];  // read either way: a guarded read became a branch per value, not vectors
      dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
  });
}

void sigmoid_forward(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    // Stable for large |x|: never exponentiates a large positive number.
    const float e = std::exp(-std::fabs(x[i]));
    y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}

void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void tanh_forward(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void tanh_backward(const float* y, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

void leaky_relu_forward(const float* x, float* y, int64_t n, float slope) {
  parallel_region(n > 65536, [&] {
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
  });
}

void leaky_relu_backward(const float* x, const float* dy, float* dx, int64_t n, float slope) {
  parallel_region(n > 65536, [&] {
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
  });
}

void elu_forward(const float* x, float* y, int64_t n, float alpha) {
  parallel_region(n > 16384, [&] {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : alpha * std::expm1(x[i]);
  });
}

void elu_backward(const float* x, const float* y, const float* dy, float* dx, int64_t n, float alpha) {
  parallel_region(n > 65536, [&] {
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * (y[i] + alpha);
  });
}

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
}  // namespace

void gelu_forward(const float* x, float* y, int64_t n) {
  parallel_region(n > 16384, [&] {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
  });
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  parallel_region(n > 16384, [&] {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float cdf = 0.5f * (1.0f + std::erf(x[i] * kInvSqrt2));
      const float pdf = kInvSqrt2Pi * std::exp(-0.5f * x[i] * x[i]);
      dx[i] = dy[i] * (cdf + x[i] * pdf);
    }
  });
}

void softmax_rows(const float* x, float* y, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float m = xr[0];
    for (int64_t c = 1; c < C; ++c) m = xr[c] > m ? xr[c] : m;
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      yr[c] = std::exp(xr[c] - m);
      s += yr[c];
    }
    const float inv = static_cast<float>(1.0 / s);
    for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
  }
}

void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    const float* yr = y + r * C;
    const float* dyr = dy + r * C;
    double dot = 0.0;
    for (int64_t c = 0; c < C; ++c) dot += static_cast<double>(dyr[c]) * yr[c];
    for (int64_t c = 0; c < C; ++c) dx[r * C + c] = yr[c] * (dyr[c] - static_cast<float>(dot));
  }
}

}  // namespace mnistcnn::kernels
