#include "mnistcnn/core/number_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mnistcnn {

std::string shortest_text(float v) {
  char buf[64];
  if (v == std::trunc(v) && std::fabs(v) < 1e7f) {
    std::snprintf(buf, sizeof buf, "%.0f", static_cast<double>(v));
    return buf;
  }
  for (int prec = 1; prec <= 9; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, static_cast<double>(v));
    if (static_cast<float>(std::strtod(buf, nullptr)) == v) break;
  }
  return buf;
}

}  // namespace mnistcnn
