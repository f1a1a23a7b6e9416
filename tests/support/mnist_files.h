// Where the tests find the real MNIST (../shared/data/mnist beside the clone); tests that
// need it skip with a message when it is absent.
#pragma once
#include <filesystem>
#include <string>

namespace mnistcnn::testing {

inline std::string mnist_dir() { return std::string(MNISTCNN_SOURCE_DIR) + "/../shared/data/mnist"; }
inline bool have_mnist() {
  return std::filesystem::exists(mnist_dir() + "/train-images-idx3-ubyte.gz") &&
         std::filesystem::exists(mnist_dir() + "/t10k-images-idx3-ubyte.gz");
}

}  // namespace mnistcnn::testing

#define MNISTCNN_REQUIRE_MNIST()                                                                     \
  do {                                                                                               \
    if (!::mnistcnn::testing::have_mnist())                                                          \
      GTEST_SKIP() << "real MNIST not found at " << ::mnistcnn::testing::mnist_dir()                 \
                   << " (run: build/mnistcnn data fetch mnist --dir that-directory)";                \
  } while (0)
