#include "mnistcnn/nn/global_pool.h"

#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/pool.h"

namespace mnistcnn::nn {

Shape GlobalAvgPool::output_shape(const Shape& in) const {
  if (in.rank() != 4) throw Error("gap: expects N×C×H×W input, got " + in.str(), "put gap before flatten");
  return {in[0], in[1], 1, 1};
}

void GlobalAvgPool::forward(const Tensor& x, Tensor& y, Mode /*mode*/) {
  y.resize(output_shape(x.shape()));
  kernels::global_avgpool_forward(x.data(), x.dim(0) * x.dim(1), x.dim(2) * x.dim(3), y.data());
}

void GlobalAvgPool::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor* dx) {
  if (!dx) return;
  dx->resize(x.shape());
  kernels::global_avgpool_backward(dy.data(), x.dim(0) * x.dim(1), x.dim(2) * x.dim(3), dx->data());
}

}  // namespace mnistcnn::nn
