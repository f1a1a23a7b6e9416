// Numbers as text that reads back exactly: for spec lines, augmentation settings and
// other text forms that must round-trip.
#pragma once
#include <string>

namespace mnistcnn {

// The shortest %g text that parses back to the same float; whole numbers below 1e7 are
// written without an exponent ("180", not "1.8e+02").
std::string shortest_text(float v);

}  // namespace mnistcnn
