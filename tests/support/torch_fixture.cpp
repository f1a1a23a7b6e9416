#include "support/torch_fixture.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "mnistcnn/core/error.h"

namespace mnistcnn::testing {

const io::SafetensorsFile& torch_fixture(const std::string& file) {
  static std::map<std::string, std::unique_ptr<io::SafetensorsFile>> cache;
  auto& slot = cache[file];
  if (!slot)
    slot = std::make_unique<io::SafetensorsFile>(
        io::read_safetensors(std::string(MNISTCNN_SOURCE_DIR) + "/tests/fixtures/" + file));
  return *slot;
}

const Tensor& torch_tensor(const std::string& file, const std::string& name) {
  const Tensor* t = torch_fixture(file).find(name);
  if (!t)
    throw Error("torch reference fixture " + file + " has no tensor '" + name + "'",
                "regenerate with: /usr/bin/python3 scripts/make_torch_fixture.py");
  return *t;
}

std::vector<int32_t> torch_labels(const Tensor& y) {
  std::vector<int32_t> out;
  for (float v : y.span()) out.push_back(static_cast<int32_t>(v));
  return out;
}

void expect_close(const std::string& name, std::span<const float> got, const Tensor& want, Tol tol) {
  ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel()) << name << ": element count differs";
  double worst = 0.0, max_abs = 0.0, max_rel = 0.0;
  int64_t at = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got[i], w = want[i], d = std::abs(g - w);
    const double ratio = d / (tol.atol + tol.rtol * std::abs(w));
    if (!(ratio <= worst)) worst = ratio, at = i;  // NaN counts as worst
    max_abs = std::max(max_abs, d);
    if (w != 0.0) max_rel = std::max(max_rel, d / std::abs(w));
  }
  char diffs[64];
  std::snprintf(diffs, sizeof diffs, "max_abs=%.3g max_rel=%.3g", max_abs, max_rel);
  ::testing::Test::RecordProperty(name, diffs);
  char worst_text[200];
  std::snprintf(worst_text, sizeof worst_text,
                "worst element [%lld] is %.9g, PyTorch has %.9g (|diff| %.3g, allowed %.3g + %.3g·|ref|)",
                static_cast<long long>(at), got[at], want[at], std::abs(got[at] - want[at]), tol.atol, tol.rtol);
  EXPECT_LE(worst, 1.0) << name << " " << want.shape().str() << ": " << worst_text << "; " << diffs;
}

void expect_close(const std::string& name, const Tensor& got, const Tensor& want, Tol tol) {
  ASSERT_EQ(got.shape(), want.shape()) << name << ": shape " << got.shape().str() << " vs PyTorch's "
                                       << want.shape().str();
  expect_close(name, got.span(), want, tol);
}

Tol grad_tol(const Tensor& want) {
  float peak = 0.0f;
  for (float v : want.span()) peak = std::max(peak, std::abs(v));
  return {1e-6 + 1e-4 * peak, 1e-3};
}

}  // namespace mnistcnn::testing
