// The message of the mnistcnn::Error that `fn` throws; a test failure (and "") when it
// throws none.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "mnistcnn/core/error.h"

namespace mnistcnn::testing {

inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "did not throw mnistcnn::Error";
  return "";
}

}  // namespace mnistcnn::testing
