// Where the tests find the real MNIST and Fashion-MNIST (../shared/data beside the clone);
// tests that need them skip with a message when they are absent.
#pragma once
#include <filesystem>
#include <string>

namespace mnistcnn::testing {

inline std::string mnist_dir() { return std::string(MNISTCNN_SOURCE_DIR) + "/../shared/data/mnist"; }
inline bool have_mnist() {
  return std::filesystem::exists(mnist_dir() + "/train-images-idx3-ubyte.gz") &&
         std::filesystem::exists(mnist_dir() + "/t10k-images-idx3-ubyte.gz");
}

// Fashion-MNIST beside it (../shared/data/fashion-mnist), gzipped as Debian ships it.
inline std::string fashion_dir() { return std::string(MNISTCNN_SOURCE_DIR) + "/../shared/data/fashion-mnist"; }
inline bool have_fashion() {
  return std::filesystem::exists(fashion_dir() + "/train-images-idx3-ubyte.gz") &&
         std::filesystem::exists(fashion_dir() + "/t10k-labels-idx1-ubyte.gz");
}

}  // namespace mnistcnn::testing

#define MNISTCNN_REQUIRE_MNIST()                                                                     \
  do {                                                                                               \
    if (!::mnistcnn::testing::have_mnist())                                                          \
      GTEST_SKIP() << "real MNIST not found at " << ::mnistcnn::testing::mnist_dir()                 \
                   << " (run: build/mnistcnn data fetch mnist --dir that-directory)";                \
  } while (0)

#define MNISTCNN_REQUIRE_FASHION()                                                                   \
  do {                                                                                               \
    if (!::mnistcnn::testing::have_fashion())                                                        \
      GTEST_SKIP() << "Fashion-MNIST not found at " << ::mnistcnn::testing::fashion_dir()            \
                   << " (run: build/mnistcnn data fetch fashion-mnist --dir that-directory)";        \
  } while (0)
