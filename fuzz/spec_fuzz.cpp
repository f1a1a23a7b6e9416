// libFuzzer target for the architecture spec parser: Sequential::from_spec on a 1×28×28
// input must build or throw mnistcnn::Error. Small networks that build are also run
// forward and backward on a batch of two, reaching the kernels with odd geometries.
#include <cmath>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "mnistcnn/core/error.h"
#include "mnistcnn/kernels/parallel.h"
#include "mnistcnn/nn/sequential.h"

namespace {

constexpr int64_t kRunLimit = int64_t{1} << 18;  // elements: activations and params each

// Forward and backward on a fixed batch of two; gradients must come out as numbers.
void run(mnistcnn::nn::Sequential& net, const mnistcnn::Shape& out) {
  using namespace mnistcnn;
  net.init(nn::Init::Torch, 1);
  Tensor x({2, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i % 29) / 29.0f;
  try {
    const Tensor& y = net.forward(x, nn::Mode::Train);
    FUZZ_CHECK(y.shape() == out);
    Tensor dy(y.shape());
    dy.fill(1.0f / static_cast<float>(y.numel()));
    net.zero_grad();
    net.backward(dy);
    for (nn::Param* p : net.params())
      for (int64_t i = 0; i < p->grad.numel(); ++i) FUZZ_CHECK(!std::isnan(p->grad[i]));
  } catch (const Error&) {
    fuzz::fail("forward/backward threw on a network that built");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mnistcnn::kernels::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mnistcnn;
  const std::string spec(reinterpret_cast<const char*>(data), size);
  nn::Sequential net;
  try {
    net = nn::Sequential::from_spec(spec, Shape{1, 28, 28});
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(net.size() >= 1);
  const std::string canonical = net.spec();
  const auto shapes = net.shapes(2);
  int64_t activations = 0;
  for (const Shape& s : shapes) {
    FUZZ_CHECK(s.numel() > 0);
    activations += s.numel();
  }
  if (activations <= kRunLimit && net.param_count() <= kRunLimit) run(net, shapes.back());
  net = nn::Sequential();  // one network in memory at a time

  // The canonical spec must rebuild the same network.
  try {
    FUZZ_CHECK(nn::Sequential::from_spec(canonical, Shape{1, 28, 28}).spec() == canonical);
  } catch (const Error&) {
    fuzz::fail("the canonical spec() of a network that built does not build");
  }
  return 0;
}
